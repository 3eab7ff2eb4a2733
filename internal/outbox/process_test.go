package outbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	helperDirEnv = "OUTBOX_TEST_HELPER_DIR"
	helperLogEnv = "OUTBOX_TEST_HELPER_LOG"
)

// TestClaimAcrossProcesses lets two real processes race to deliver the same
// 50 reports; each delivery is appended to a shared file. Every report must
// be delivered exactly once.
func TestClaimAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	o, _, _ := openTest(t)
	const n = 50
	want := make([]string, n)
	for i := range want {
		want[i] = testID(1000 + i)
		require.NoError(t, o.Put(newReport(want[i])))
	}
	logPath := filepath.Join(t.TempDir(), "delivered.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))

	type proc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	procs := make([]proc, 2)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperDirEnv+"="+o.Dir(), helperLogEnv+"="+logPath)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		procs[i] = proc{cmd, stdin, bufio.NewReader(stdout)}
	}
	// Start line: both helpers have opened the outbox before either lists.
	for _, p := range procs {
		line, err := p.out.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "ready\n", line)
	}
	for _, p := range procs {
		require.NoError(t, p.stdin.Close())
	}
	for _, p := range procs {
		rest, _ := io.ReadAll(p.out)
		require.NoError(t, p.cmd.Wait(), "helper output:\n%s", rest)
	}

	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	count := map[string]int{}
	byPID := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, pid, ok := strings.Cut(line, " ")
		require.True(t, ok, "log line %q", line)
		count[id]++
		byPID[pid]++
	}
	var got []string
	for id, c := range count {
		assert.Equal(t, 1, c, "report %s delivered %d times", id, c)
		got = append(got, id)
	}
	sort.Strings(got)
	assert.Equal(t, want, got)
	t.Logf("deliveries per process: %v", byPID)

	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestHelperProcess is one of the racing senders of TestClaimAcrossProcesses;
// it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper for TestClaimAcrossProcesses")
	}
	o, err := Open(dir, Options{})
	require.NoError(t, err)
	logf, err := os.OpenFile(os.Getenv(helperLogEnv), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer logf.Close()

	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // wait for the start line (stdin closed)

	entries, err := o.List()
	require.NoError(t, err)
	for _, e := range entries {
		c, err := o.Claim(e.ID)
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrGone) {
			continue // the other process has it, or had it
		}
		require.NoError(t, err)
		// "Send": one O_APPEND write per delivery, so lines never interleave.
		_, err = fmt.Fprintf(logf, "%s %d\n", e.ID, os.Getpid())
		require.NoError(t, err)
		require.NoError(t, c.Delivered())
	}
}
