//go:build unix

package runfile

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelperHoldRun is not a test: run as a child by the tests below, it
// starts a run, prints its id and then waits to be killed.
func TestHelperHoldRun(t *testing.T) {
	runs := os.Getenv("RUNFILE_HELPER_RUNS")
	if runs == "" {
		t.Skip("helper process only")
	}
	r, err := Start(runs, &Meta{PID: os.Getpid(), StartTime: time.Now()})
	if err != nil {
		os.Exit(3)
	}
	_, _ = r.CrashFile.WriteString("panic: from helper\n")
	os.Stdout.WriteString(r.ID + "\n")
	select {} // until SIGKILL
}

func startHolder(t *testing.T, runs string) (*exec.Cmd, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperHoldRun$")
	cmd.Env = append(os.Environ(), "RUNFILE_HELPER_RUNS="+runs)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "helper never printed its run id")
	return cmd, strings.TrimSpace(line)
}

func TestRunIsAliveUntilItsProcessDies(t *testing.T) {
	runs := t.TempDir()
	cmd, id := startHolder(t, runs)

	_, err := Claim(runs, id)
	require.ErrorIs(t, err, ErrAlive, "a live process's run must not be claimable")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	d, err := Claim(runs, id)
	require.NoError(t, err, "SIGKILL drops the flock, so the run is dead")
	out, truncated, mod, err := d.CrashOutput(1 << 20)
	require.NoError(t, err)
	assert.Equal(t, "panic: from helper\n", string(out))
	assert.False(t, truncated)
	assert.False(t, mod.IsZero())
	m, err := d.Meta()
	require.NoError(t, err)
	assert.Equal(t, id, m.RunID)
	assert.Equal(t, cmd.Process.Pid, m.PID)

	_, err = Claim(runs, id)
	assert.ErrorIs(t, err, ErrAlive, "a claimed run is held by its collector")

	require.NoError(t, d.Remove())
	_, err = os.Stat(filepath.Join(runs, id))
	assert.True(t, os.IsNotExist(err))
	ids, err := List(runs)
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestStartLayoutAndPermissions(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	r, err := Start(runs, &Meta{PID: 42, StartTime: time.Unix(1700000000, 0)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Abandon() })

	assert.True(t, strings.HasPrefix(r.ID, "20231114T221320.000000000Z-42-"), r.ID)
	for name, mode := range map[string]os.FileMode{LockName: 0o600, MetaName: 0o600, CrashName: 0o600} {
		st, err := os.Stat(r.Path(name))
		require.NoError(t, err, name)
		assert.Equal(t, mode, st.Mode().Perm(), name)
	}
	st, err := os.Stat(r.Dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	_, err = Claim(runs, r.ID)
	assert.ErrorIs(t, err, ErrAlive, "the live run's own lock must exclude collectors in-process too")
}

func TestCrashOutputIsCapped(t *testing.T) {
	runs := t.TempDir()
	r, err := Start(runs, &Meta{PID: 1, StartTime: time.Now()})
	require.NoError(t, err)
	_, err = r.CrashFile.WriteString(strings.Repeat("x", 100))
	require.NoError(t, err)
	r.release()

	d, err := Claim(runs, r.ID)
	require.NoError(t, err)
	out, truncated, _, err := d.CrashOutput(10)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("x", 10), string(out))
	assert.True(t, truncated)
	require.NoError(t, d.Remove())
}

func TestRunWithoutLockFileIsDead(t *testing.T) {
	runs := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(runs, "half"), 0o700))
	d, err := Claim(runs, "half")
	require.NoError(t, err)
	out, _, _, err := d.CrashOutput(10)
	require.NoError(t, err)
	assert.Empty(t, out)
	require.NoError(t, d.Remove())
}
