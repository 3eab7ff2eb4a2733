package symbolize

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// The tests build real programs (testdata/prog, testdata/lib) into one
// temporary directory, each at most once per test binary and only when a
// test asks for it, so that "go test -run X" builds only what X needs.
var tmpDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "symbolize-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// artifact is something built once.
type artifact struct {
	once sync.Once
	path string
	err  error
}

var (
	artifactsMu sync.Mutex
	artifacts   = map[string]*artifact{}
)

// built returns the path of the artifact called name, building it with
// build the first time.
func built(t testing.TB, name string, build func(out string) error) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds test programs; skipped with -short")
	}
	artifactsMu.Lock()
	a := artifacts[name]
	if a == nil {
		a = &artifact{}
		artifacts[name] = a
	}
	artifactsMu.Unlock()
	a.once.Do(func() {
		a.path = filepath.Join(tmpDir, name)
		a.err = build(a.path)
	})
	require.NoError(t, a.err, "building %s", name)
	return a.path
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// cTool is the C toolchain's tool for the architecture the tests run as:
// name itself, or with CC's cross prefix (CC=aarch64-linux-gnu-gcc, as
// .ci/arm64.sh sets: aarch64-linux-gnu-strip, ...), so that a library
// built for an arm64 test is arm64 and its tools read it.
func cTool(name string) string {
	if cc := os.Getenv("CC"); strings.HasSuffix(cc, "-gcc") && !strings.ContainsAny(cc, " /") {
		return strings.TrimSuffix(cc, "gcc") + name
	}
	return name
}

func requireTool(t testing.TB, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not found", tool)
	}
}

// goProg builds testdata/prog. cgo selects CGO_ENABLED; extra are more
// go build flags (-buildmode=pie).
func goProg(t testing.TB, name string, cgo bool, goos, goarch string, extra ...string) string {
	t.Helper()
	requireTool(t, "go")
	if cgo {
		requireTool(t, cTool("gcc"))
	}
	return built(t, name, func(out string) error {
		env := []string{"CGO_ENABLED=0"}
		if cgo {
			env = []string{"CGO_ENABLED=1"}
		}
		if goos != "" {
			env = append(env, "GOOS="+goos, "GOARCH="+goarch)
		}
		args := append([]string{"build", "-o", out}, extra...)
		return run(".", env, "go", append(args, "./testdata/prog")...)
	})
}

// cLib builds testdata/lib as a shared library with a GNU build-id.
func cLib(t testing.TB) string {
	t.Helper()
	requireTool(t, cTool("gcc"))
	return built(t, "libsymtest.so", func(out string) error {
		return run(".", nil, cTool("gcc"), "-shared", "-fPIC", "-g", "-O1", "-Wl,--build-id", "-o", out, "testdata/lib/lib.c")
	})
}

// stripped returns a copy of the artifact at path with strip --strip-all.
func stripped(t testing.TB, path string) string {
	t.Helper()
	requireTool(t, cTool("strip"))
	return built(t, filepath.Base(path)+".stripped", func(out string) error {
		return run(".", nil, cTool("strip"), "--strip-all", "-o", out, path)
	})
}

// progOutput is what testdata/prog prints (see its Output type).
type progOutput struct {
	Images    []report.Image
	ImagesErr string
	Go        []struct {
		PC       uint64
		Function string
		File     string
		Line     int
	}
	Sentinel uint64
	C        uint64
	Lib      uint64
}

// runProg runs a built prog and decodes what it printed.
func runProg(t testing.TB, path string, args ...string) progOutput {
	t.Helper()
	out, err := exec.Command(path, args...).Output()
	require.NoError(t, err, "running %s", path)
	var po progOutput
	require.NoError(t, json.Unmarshal(out, &po), "%s printed %s", path, out)
	require.Empty(t, po.ImagesErr)
	require.NotEmpty(t, po.Go, "prog found no pc inside main.goFunc")
	return po
}

// imageOf returns the image of po whose path is path.
func imageOf(t testing.TB, po progOutput, path string) report.Image {
	t.Helper()
	for _, img := range po.Images {
		if img.Path == path {
			return img
		}
	}
	require.Failf(t, "image not listed", "%s not in %+v", path, po.Images)
	return report.Image{}
}
