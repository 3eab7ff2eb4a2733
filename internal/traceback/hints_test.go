package traceback

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestFatalStrings(t *testing.T) {
	m := FatalStrings()
	require.Len(t, m, len(fatalStrings))
	byText := map[string]uint64{}
	for addr, s := range m {
		assert.NotZero(t, addr)
		byText[s] = addr
	}
	for _, s := range fatalStrings {
		assert.Equal(t, uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))), byText[s], s)
	}
	// The same constant anywhere in the program is the same bytes.
	assert.Contains(t, m, uint64(uintptr(unsafe.Pointer(unsafe.StringData("concurrent map writes")))))
}

// childEnv makes the test binary, run again, crash with concurrent map
// writes instead of testing.
const childEnv = "CRASHGUARD_TRACEBACK_TEST_CHILD"

// TestFatalStringsEndToEnd crashes a child process with concurrent map
// writes at GOTRACEBACK=single, where the traceback cannot tell which map
// fatal error it was, and checks that the child's FatalStrings name it.
func TestFatalStringsEndToEnd(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFatalStringsEndToEnd$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, "GOTRACEBACK=single")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child must crash:\n%s", out)
	require.Contains(t, string(out), "fatal error: concurrent map writes", "stderr has the message")

	text, err := os.ReadFile(filepath.Join(dir, "crash.txt"))
	require.NoError(t, err)
	if !strings.Contains(string(text), "internal/runtime/maps.fatal(") {
		t.Skip("this Go release does not print the map's fatal frame (Go 1.23)")
	}
	hints := Hints{Strings: map[uint64]string{}}
	lines, err := os.ReadFile(filepath.Join(dir, "hints.txt"))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		a, s, _ := strings.Cut(line, " ")
		addr, err := strconv.ParseUint(a, 0, 64)
		require.NoError(t, err)
		hints.Strings[addr] = s
	}

	r, err := Parse(text)
	require.NoError(t, err)
	assert.Equal(t, msgMapFamily, r.Message, "without hints only the family is known")

	r, err = ParseWith(text, hints)
	require.NoError(t, err)
	assert.Equal(t, report.KindFatalError, r.Kind)
	assert.Equal(t, "concurrent map writes", r.Message)
	assert.True(t, r.MessageInferred)
	assert.Contains(t, r.InferredFrom, "in the crashed process")
}

func crashChild(dir string) {
	var b strings.Builder
	for addr, s := range FatalStrings() {
		fmt.Fprintf(&b, "%#x %s\n", addr, s)
	}
	if err := os.WriteFile(filepath.Join(dir, "hints.txt"), []byte(b.String()), 0o600); err != nil {
		panic(err)
	}
	f, err := os.Create(filepath.Join(dir, "crash.txt"))
	if err != nil {
		panic(err)
	}
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		panic(err)
	}
	m := map[int]int{}
	for i := 0; i < 2; i++ {
		go func() {
			for j := 0; ; j++ {
				m[j&1023] = j
			}
		}()
	}
	select {}
}
