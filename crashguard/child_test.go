//go:build unix

package crashguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	tp "github.com/crashguard/crashguard-go/internal/testprog"
)

// childTimeout bounds every crashing child: a hang fails the test, it does
// not hang the machine.
const childTimeout = 90 * time.Second

var progs struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// testprog builds testprogs/<name> once per test binary and returns its path.
func testprog(t *testing.T, name string) string { return testprogCgo(t, name, true) }

// testprogCgo builds testprogs/<name> (or, for a name with a slash, that
// path in the module) with cgo on or off, once per test binary (see tp.Build
// for why cgo matters).
func testprogCgo(t *testing.T, name string, cgo bool) string {
	t.Helper()
	progs.mu.Lock()
	defer progs.mu.Unlock()
	key := fmt.Sprintf("%s-%v", name, cgo)
	if bin, ok := progs.bins[key]; ok {
		return bin
	}
	if progs.dir == "" {
		dir, err := os.MkdirTemp("", "crashguard-testprogs-")
		require.NoError(t, err)
		progs.dir, progs.bins = dir, map[string]string{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var bin string
	var err error
	if strings.Contains(name, "/") { // a path in the module, e.g. examples/usage
		bin, err = tp.BuildPackage(ctx, tp.Module+"/"+name, progs.dir, cgo)
	} else {
		bin, err = tp.Build(ctx, name, progs.dir, cgo)
	}
	require.NoError(t, err)
	progs.bins[key] = bin
	return bin
}

// emulation names the emulator the tests run under, as .ci/arm64.sh says
// in CRASHGUARD_TEST_EMULATION ("qemu-user"); "" when they run natively.
// Tests that start hundreds of processes scale down under it, saying so.
func emulation() string { return os.Getenv("CRASHGUARD_TEST_EMULATION") }

// childResult is how a child ended.
type childResult struct {
	pid    int
	exit   int            // exit status, -1 when killed by a signal
	signal syscall.Signal // the killing signal, 0 when it exited
	stdout string
	stderr string
}

// runChild runs bin with args in a fresh environment that points crashguard
// at dir (plus extra env), waits for it with a deadline and reports how it
// ended.
func runChild(t *testing.T, bin, dir string, env []string, args ...string) childResult {
	t.Helper()
	return runChildIn(t, bin, dir, env, args...).result
}

// childRun is a child's result and the working directory it ran in (where a
// core file would be).
type childRun struct {
	result childResult
	cwd    string
}

// runChildIn is runChild that also returns the child's working directory.
func runChildIn(t *testing.T, bin, dir string, env []string, args ...string) childRun {
	t.Helper()
	full := append(baseEnv(), "CRASHGUARD_DIR="+dir)
	return runChildEnv(t, bin, append(full, env...), args...)
}

// runChildEnv runs bin with args in exactly env (nothing inherited), in a
// fresh working directory, waits for it with a deadline and reports how it
// ended.
func runChildEnv(t *testing.T, bin string, env []string, args ...string) childRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cwd := t.TempDir()
	cmd.Dir = cwd // a core file, if any, lands here and not in the repo
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "child %s %v did not end within %s\nstderr:\n%s", bin, args, childTimeout, stderr.String())
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		// Not started (cmd.Process is nil): fail, not panic.
		require.NoError(t, err, "start child\nstderr:\n%s", stderr.String())
	}
	res := childResult{pid: cmd.Process.Pid, stdout: stdout.String(), stderr: stderr.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	res.exit = ws.ExitStatus()
	if ws.Signaled() {
		res.signal = ws.Signal()
	}
	return childRun{result: res, cwd: cwd}
}

// baseEnv is the environment of the test without anything that would change
// a child's crash behaviour or send to a real Sentry.
func baseEnv() []string { return tp.CleanEnv() }

// lineOf returns the 1-based line of the first line of file containing s, so
// that tests assert exact line numbers without hard-coding them.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), s) {
			return n
		}
	}
	t.Fatalf("%q not found in %s", s, file)
	return 0
}
