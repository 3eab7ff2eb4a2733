//go:build unix

package crashguard

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

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
