//go:build unix

package crashguard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// LastRun's small files live in Dir, which may be group-writable: a link
// planted at the temp name is never followed, a FIFO planted at a record
// never blocks a read, and what the link pointed at is left as it was.
func TestLastRunFilesIgnorePlantedLinksAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, lastStartFile+".tmp")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, crashLogFile), 0o600))

	require.NoError(t, writeJSONFile(dir, lastStartFile, lastStart{RunID: "r1"}))
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(got), "the link's target is untouched")
	var ls lastStart
	ok, err := readJSONFile(dir, lastStartFile, &ls)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "r1", ls.RunID)

	var v map[string]any
	ok, err = readJSONFile(dir, crashLogFile, &v) // returns at once
	assert.False(t, ok)
	assert.ErrorContains(t, err, "not a regular file")
}

// Processes noting crashes at the same moment (monitors, starts) lose none:
// 4 processes x 4 notes, all 16 in the log (crashLogMax).
func TestNoteCrashAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	const procs, each = 4, crashLogMax / 4
	cmds := make([]*exec.Cmd, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNoteCrashes$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CRASHGUARD_TEST_NOTE_DIR="+dir, fmt.Sprintf("CRASHGUARD_TEST_NOTE_PROC=%d", p))
		require.NoError(t, cmd.Start())
		cmds[p] = cmd
	}
	for _, cmd := range cmds {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			t.Fatal("a noting process hung")
		}
	}
	log, err := readCrashLog(dir)
	require.NoError(t, err)
	assert.Len(t, log, procs*each, "every process's every note")
}

// TestHelperNoteCrashes is TestNoteCrashAcrossProcesses's child.
func TestHelperNoteCrashes(t *testing.T) {
	dir := os.Getenv("CRASHGUARD_TEST_NOTE_DIR")
	if dir == "" {
		t.Skip("a child of TestNoteCrashAcrossProcesses")
	}
	p := os.Getenv("CRASHGUARD_TEST_NOTE_PROC")
	for i := range crashLogMax / 4 {
		r := panicReportFor(fmt.Sprintf("20261202T0000%s%d.000000000Z-1-aaaaaaaaaaaa", p, i))
		require.NoError(t, noteCrash(dir, r))
	}
}
