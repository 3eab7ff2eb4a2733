//go:build cgo && (linux || darwin)

package native

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/native/nativetest"
)

// childEnv names a child role: the test binary re-executes itself with it
// set to run code that must crash (handler self-faults), away from the
// test process.
const childEnv = "CRASHGUARD_NATIVE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// runChild runs a child role and returns its exit status (if it returns).
func runChild(role string) int {
	dir, err := os.MkdirTemp("", "cgnative-child")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 70
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "flight.bin")
	if err := flightrec.Create(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 71
	}
	// The handler-fault roles break the recorder beneath the signal
	// handler; a Mach exception thread would fault on it too (darwin).
	handlerFault := strings.HasPrefix(role, "handler-fault-")
	if _, err := Install(path, Options{DisableMach: handlerFault}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 72
	}
	switch role {
	case "reinstall-under-foreign":
		return reinstallUnderForeign(dir)
	case "handler-fault-blocked", "handler-fault-reentered":
		reentered := role == "handler-fault-reentered"
		if err := nativetest.BreakRecorder(syscall.SIGSEGV, reentered); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 74
		}
		if reentered {
			if err := nativetest.CountHandlerEntries(syscall.SIGSEGV); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 75
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		return 73
	}
	// Without a broken recorder this is a recovered panic; with one the
	// handler faults inside itself and the process must die.
	recoveredNil()
	fmt.Fprintln(os.Stderr, "child: survived a fault inside the handler")
	return 0
}

var (
	buildOnce sync.Once
	buildDir  string
	progPath  string
	buildErr  error
)

// cgocrash builds testprogs/cgocrash once per test binary.
func cgocrash(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "cgocrash-build")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		progPath = filepath.Join(buildDir, "cgocrash")
		cmd := exec.Command(goTool, "build", "-o", progPath, "github.com/crashguard/crashguard-go/testprogs/cgocrash")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cgocrash: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return progPath
}

// reinstallUnderForeign: another crash reporter installs its handler on top
// of ours and chains to it; our Uninstall must leave ours in place (theirs
// calls it), and a second Install must not put ours on top again (the chain
// would loop: ours -> theirs -> ours ...). Recovered panics keep working
// and are recorded once each.
func reinstallUnderForeign(dir string) int {
	if err := installForeign(syscall.SIGSEGV); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 80
	}
	if err := Uninstall(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 81
	}
	path := filepath.Join(dir, "second.bin")
	if err := flightrec.Create(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 82
	}
	l, err := Install(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 83
	}
	if l.PrevHandlers[syscall.SIGSEGV] != l.PrevHandlers[syscall.SIGBUS] {
		fmt.Fprintf(os.Stderr, "SIGSEGV chain not kept: %v\n", l.PrevHandlers)
		return 84
	}
	for i := 0; i < 3; i++ {
		if !recoveredNil() {
			fmt.Fprintln(os.Stderr, "nil dereference did not panic")
			return 85
		}
	}
	f, err := flightrec.ReadFile(path)
	if err != nil || len(f.Records) != 3 || foreignCalls() != 3 {
		fmt.Fprintf(os.Stderr, "records %v err %v foreign calls %d\n", f, err, foreignCalls())
		return 86
	}
	return 0
}
