//go:build unix

package runfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/safedir"
	tp "github.com/crashguard/crashguard-go/internal/testprog"
)

// tree is testprog.Tree for a test: it fails the test on an error.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m, err := tp.Tree(dir)
	require.NoError(t, err)
	return m
}

// plantForeign fills runs with files crashguard did not make, some of them
// named almost like its own, and returns the names.
func plantForeign(t *testing.T, runs, outside string) []string {
	t.Helper()
	files := []string{
		"notes.txt", "a.b.c", ".hidden", "foo.run", "foo.flight", "foo.suppressed",
		id1,                   // an id without a suffix
		id2 + ".run.bak",      // a known suffix, then more
		id2 + ".flight.tmp",   //
		id2 + ".flight~",      //
		id2 + ".log",          // unknown suffix
		id2 + ".FLIGHT",       //
		"x" + id2 + ".flight", // prefix
		"20231114T221321.500000000Z-43-0A0B0C0D0E0F.flight", // upper-case hex
		"20231114T221321.500000000Z-43-0a0b0c0d0e0.flight",  // 11 hex digits
		"20231114T221321.5Z-43-0a0b0c0d0e0f.flight",         // short fraction
		"20231114T221321.500000000Z-043-0a0b0c0d0e0f.flight",
	}
	for _, name := range files {
		require.NoError(t, os.WriteFile(filepath.Join(runs, name), []byte("theirs"), 0o600))
	}
	dirs := []string{"cache.d", "empty.d", id2 + ".d", "20231114T221321.500000000Z-44-0a0b0c0d0e0f.flight"}
	for _, name := range dirs {
		require.NoError(t, os.Mkdir(filepath.Join(runs, name), 0o700))
	}
	// A link with an orphan sibling's exact name, and one with a run's: the
	// link is not ours, and its target must never be touched.
	target := filepath.Join(outside, "precious")
	require.NoError(t, os.WriteFile(target, []byte("precious"), 0o600))
	links := []string{"20231114T221321.500000000Z-45-0a0b0c0d0e0f.flight", "20231114T221321.500000000Z-46-0a0b0c0d0e0f.run"}
	for _, name := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(runs, name)))
	}
	require.NoError(t, unix.Mkfifo(filepath.Join(runs, "20231114T221321.500000000Z-47-0a0b0c0d0e0f.suppressed"), 0o600))
	all := append(append(append(files, dirs...), links...), "20231114T221321.500000000Z-47-0a0b0c0d0e0f.suppressed")
	sort.Strings(all)
	return all
}

func TestListLeavesForeignFilesAlone(t *testing.T) {
	runs, outside := t.TempDir(), t.TempDir()
	foreign := plantForeign(t, runs, outside)
	writeDead(t, runs, id1, "{}\n")
	const orphan = "20231114T221322.000000000Z-99-00000000000a.flight"
	require.NoError(t, os.WriteFile(filepath.Join(runs, orphan), nil, 0o600))
	before := tree(t, runs)
	beforeOutside := tree(t, outside)

	ids, err := List(runs)
	require.NoError(t, err)
	assert.Equal(t, []string{id1}, ids, "only a regular <id>.run with an exact id is a run")

	delete(before, orphan)
	assert.Equal(t, before, tree(t, runs), "only the orphan flight recorder went; every foreign name is untouched")
	assert.Equal(t, beforeOutside, tree(t, outside))
	for _, name := range foreign {
		_, err := os.Lstat(filepath.Join(runs, name))
		assert.NoError(t, err, name)
	}

	// Collecting the run removes the run's own files and nothing else.
	d, err := Claim(runs, id1)
	require.NoError(t, err)
	require.NoError(t, d.Remove())
	delete(before, id1+RunExt)
	assert.Equal(t, before, tree(t, runs))
}

func TestClaimRefusesWhatIsNotARunFile(t *testing.T) {
	runs, outside := t.TempDir(), t.TempDir()
	plantForeign(t, runs, outside)
	for _, id := range []string{
		"20231114T221321.500000000Z-46-0a0b0c0d0e0f", // symlink at <id>.run
		"foo", "../x", "",
	} {
		_, err := Claim(runs, id)
		assert.Error(t, err, id)
		assert.NotErrorIs(t, err, ErrAlive, id)
	}
	// A FIFO at a run name must neither block nor be claimed.
	fifo := "20231114T221321.500000000Z-48-0a0b0c0d0e0f"
	require.NoError(t, unix.Mkfifo(filepath.Join(runs, fifo+RunExt), 0o600))
	_, err := Claim(runs, fifo)
	assert.ErrorContains(t, err, "not a regular file")
	b, err := os.ReadFile(filepath.Join(outside, "precious"))
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))
}

func TestRunsSymlinkRefused(t *testing.T) {
	base, elsewhere := t.TempDir(), t.TempDir()
	// What the old List removed: an orphan-looking sibling, dotted names,
	// an empty *.d directory.
	for _, name := range []string{id2 + ".flight", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(elsewhere, name), []byte("theirs"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(elsewhere, "x.d"), 0o700))
	writeDead(t, elsewhere, id1, "{}\n")
	before := tree(t, elsewhere)
	runs := filepath.Join(base, "runs")
	require.NoError(t, os.Symlink(elsewhere, runs))

	ids, err := List(runs)
	assert.Empty(t, ids)
	assert.ErrorIs(t, err, safedir.ErrUnsafe)
	assert.ErrorIs(t, err, safedir.ErrSymlink)
	assert.Contains(t, err.Error(), runs)

	_, err = Start(runs, &Meta{Process: report.Process{PID: 1, StartTime: time.Now()}})
	assert.ErrorIs(t, err, safedir.ErrSymlink)
	assert.Equal(t, before, tree(t, elsewhere), "nothing in the link's target is touched or added")
}

func TestRunsWritableByOthersRefused(t *testing.T) {
	for _, mode := range []fs.FileMode{0o770, 0o703, 0o777 | fs.ModeSticky} {
		runs := filepath.Join(t.TempDir(), "runs")
		require.NoError(t, os.Mkdir(runs, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(runs, id2+".flight"), nil, 0o600))
		require.NoError(t, os.Chmod(runs, mode))
		before := tree(t, runs)

		_, err := List(runs)
		assert.ErrorIs(t, err, safedir.ErrWritable, "%v", mode)
		_, err = Start(runs, &Meta{Process: report.Process{PID: 1, StartTime: time.Now()}})
		assert.ErrorIs(t, err, safedir.ErrWritable, "%v", mode)
		assert.Contains(t, err.Error(), "chmod go-w "+runs)
		assert.Equal(t, before, tree(t, runs), "%v", mode)
		fi, err := os.Lstat(runs)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeDir|mode, fi.Mode(), "a refused runs/ keeps its mode")
	}
}

func TestRunsOwnedByAnotherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown runs/ to nobody (uid 65534)")
	}
	runs := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.Mkdir(runs, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(runs, id2+".flight"), nil, 0o600))
	require.NoError(t, os.Chown(runs, 65534, 65534))
	before := tree(t, runs)

	_, err := List(runs)
	assert.ErrorIs(t, err, safedir.ErrNotOwner)
	_, err = Start(runs, &Meta{Process: report.Process{PID: 1, StartTime: time.Now()}})
	assert.ErrorIs(t, err, safedir.ErrNotOwner)
	assert.Equal(t, before, tree(t, runs))
}
