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

	"github.com/crashguard/crashguard-go/internal/report"
)

// TestHelperHoldRun is not a test: run as a child by the tests below, it
// starts a run, prints its id and then waits to be killed.
func TestHelperHoldRun(t *testing.T) {
	runs := os.Getenv("RUNFILE_HELPER_RUNS")
	if runs == "" {
		t.Skip("helper process only")
	}
	r, err := Start(runs, &Meta{Process: report.Process{PID: os.Getpid(), StartTime: time.Now()}})
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
	c, err := d.Read(1 << 20)
	require.NoError(t, err)
	assert.Equal(t, "panic: from helper\n", string(c.Output), "the crash output follows the metadata line")
	assert.False(t, c.Truncated)
	assert.False(t, c.ModTime.IsZero())
	require.NotNil(t, c.Meta)
	assert.Equal(t, id, c.Meta.RunID)
	assert.Equal(t, cmd.Process.Pid, c.Meta.Process.PID)

	_, err = Claim(runs, id)
	assert.ErrorIs(t, err, ErrAlive, "a claimed run is held by its collector")

	require.NoError(t, os.WriteFile(d.Path(FlightName), []byte("x"), 0o600))
	require.NoError(t, d.Remove())
	entries, err := os.ReadDir(runs)
	require.NoError(t, err)
	assert.Empty(t, entries, "the run file and its siblings are gone")
}

func TestStartLayoutAndPermissions(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	r, err := Start(runs, &Meta{EventID: "e", Process: report.Process{PID: 42, StartTime: time.Unix(1700000000, 0)}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Abandon() })

	assert.True(t, strings.HasPrefix(r.ID, "20231114T221320.000000000Z-42-"), r.ID)
	st, err := os.Stat(filepath.Join(runs, r.ID+RunExt))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(runs)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	assert.Equal(t, filepath.Join(runs, r.ID+".flight"), r.Path(FlightName))

	b, err := os.ReadFile(filepath.Join(runs, r.ID+RunExt))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(b), "\n"), "exactly one metadata line, ready for the crash output")
	assert.Equal(t, 1, strings.Count(string(b), "\n"))
	assert.Contains(t, string(b), `"event_id":"e"`)

	_, err = Claim(runs, r.ID)
	assert.ErrorIs(t, err, ErrAlive, "the live run's own lock must exclude collectors in-process too")
}

// Ids as newID makes them, for run files the tests lay out by hand.
const (
	id1 = "20231114T221320.000000000Z-42-0a0b0c0d0e0f"
	id2 = "20231114T221321.500000000Z-43-0a0b0c0d0e0f"
)

func TestCrashOutputIsCapped(t *testing.T) {
	runs := t.TempDir()
	writeDead(t, runs, id1, `{"run_id":"`+id1+`","process":{"pid":7}}`+"\n"+strings.Repeat("x", 100))
	d, err := Claim(runs, id1)
	require.NoError(t, err)
	c, err := d.Read(10)
	require.NoError(t, err)
	require.NotNil(t, c.Meta)
	assert.NoError(t, c.MetaErr)
	assert.Equal(t, 7, c.Meta.Process.PID)
	assert.Equal(t, strings.Repeat("x", 10), string(c.Output))
	assert.True(t, c.Truncated)
	assert.Equal(t, int64(len(c.Raw)), c.Size, "Raw holds the whole (small) file")
	require.NoError(t, d.Remove())
}

func TestRunWithBrokenMetadataStillGivesItsOutput(t *testing.T) {
	runs := t.TempDir()
	writeDead(t, runs, id2, "garbage\npanic: x\n")
	d, err := Claim(runs, id2)
	require.NoError(t, err)
	c, err := d.Read(1 << 10)
	require.NoError(t, err)
	assert.Nil(t, c.Meta)
	assert.Error(t, c.MetaErr)
	assert.Equal(t, "garbage\npanic: x\n", string(c.Output), "nothing is lost")
	require.NoError(t, d.Remove())
}

func TestReadMetadataChecks(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		meta    bool
		metaErr string
	}{
		"empty file":       {"", false, ""},
		"metadata only":    {`{"run_id":"` + id1 + `"}` + "\n", true, ""},
		"cut short":        {`{"run_id":"` + id1[:20], false, "not JSON"},
		"null":             {"null\n", false, `names run ""`},
		"another run's":    {`{"run_id":"` + id2 + `"}` + "\n", false, `names run "` + id2 + `"`},
		"NUL-filled":       {strings.Repeat("\x00", 4096), false, "not JSON"},
		"binary then line": {"\xff\xfe\x00\n", false, "not JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			runs := t.TempDir()
			writeDead(t, runs, id1, tc.content)
			d, err := Claim(runs, id1)
			require.NoError(t, err)
			defer d.Release()
			c, err := d.Read(1 << 20)
			require.NoError(t, err)
			assert.Equal(t, tc.meta, c.Meta != nil)
			if tc.metaErr == "" {
				assert.NoError(t, c.MetaErr)
			} else {
				assert.ErrorContains(t, c.MetaErr, tc.metaErr)
			}
			assert.Equal(t, tc.content, string(c.Raw))
			assert.Equal(t, int64(len(tc.content)), c.Size)
		})
	}
}

func TestValidID(t *testing.T) {
	id, err := newID(os.Getpid(), time.Now())
	require.NoError(t, err)
	assert.True(t, ValidID(id), id)
	id, err = newID(4194304, time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC))
	require.NoError(t, err)
	assert.True(t, ValidID(id), id)
	assert.True(t, ValidID(id1))
	for _, bad := range []string{
		"", "r1", "x", id1 + "0", id1[:len(id1)-1], strings.ToUpper(id1),
		"20231114T221320.000000000Z-42-0a0b0c0d0e0g",  // not hex
		"20231114T221320.000000000Z-042-0a0b0c0d0e0f", // pid with a leading zero
		"20231114T221320.000000000Z--0a0b0c0d0e0f",    // no pid
		"20231114T221320.000000000Z-4a-0a0b0c0d0e0f",
		"20231114T221320.00000000Z-42-0a0b0c0d0e0f", // 8 fraction digits
		"20231114X221320.000000000Z-42-0a0b0c0d0e0f",
		"20231114T221320.000000000Z-12345678901-0a0b0c0d0e0f",
		"20231114T221320.000000000Z-42-0a0b0c0d0e0f-1",
		"../20231114T221320.000000000Z-42-0a0b0c0d0e0f",
	} {
		assert.False(t, ValidID(bad), bad)
	}
}

func TestListRemovesOrphanSiblings(t *testing.T) {
	runs := t.TempDir()
	// Real ids carry a dot of their own.
	const id, gone = id1, id2
	writeDead(t, runs, id, "{}\n")
	for _, name := range []string{id + ".flight", id + ".suppressed", gone + ".flight"} {
		require.NoError(t, os.WriteFile(filepath.Join(runs, name), nil, 0o600))
	}
	ids, err := List(runs)
	require.NoError(t, err)
	assert.Equal(t, []string{id}, ids)
	_, err = os.Stat(filepath.Join(runs, gone+".flight"))
	assert.True(t, os.IsNotExist(err), "a sibling whose run file is gone is removed")
	for _, name := range []string{id + ".flight", id + ".suppressed"} {
		_, err = os.Stat(filepath.Join(runs, name))
		assert.NoError(t, err, "a live run's sibling stays")
	}
}

func writeDead(t *testing.T, runs, id, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(runs, id+RunExt), []byte(content), 0o600))
}
