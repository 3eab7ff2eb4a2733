//go:build unix

package outbox

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/crashguard/crashguard-go/internal/safedir"
)

// A FIFO at a report name would block a plain open forever.
func TestFIFOQuarantined(t *testing.T) {
	o, _, _ := openTest(t)
	listed, claimed := testID(300), testID(301)
	require.NoError(t, unix.Mkfifo(o.reportPath(listed), 0o600))
	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Contains(t, readReason(t, o, listed+".json"), "not a regular file")

	require.NoError(t, unix.Mkfifo(o.reportPath(claimed), 0o600))
	_, err = o.Claim(claimed)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, readReason(t, o, claimed+".json"), "not a regular file")
}

// Modes are exact even under a umask that would take away our own access.
func TestPermissionsUnderOddUmask(t *testing.T) {
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := Open(dir, Options{})
	require.NoError(t, err)
	id := testID(302)
	require.NoError(t, o.Put(newReport(id)))
	for name, want := range map[string]os.FileMode{
		".":          os.ModeDir | 0o700,
		"quarantine": os.ModeDir | 0o700,
		id + ".json": 0o600,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode(), name)
	}
}

func TestOpenRefusesOtherUsersDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	_, err := Open(dir, Options{})
	assert.ErrorIs(t, err, ErrUnsafeDir)
	assert.ErrorIs(t, err, safedir.ErrNotOwner)
}

// A directory others can write to may already hold planted files: refused,
// not narrowed, and left as it was.
func TestOpenRefusesDirWritableByOthers(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o777} {
		dir := filepath.Join(t.TempDir(), "outbox")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		_, err := Open(dir, Options{})
		assert.ErrorIs(t, err, ErrUnsafeDir, "%v", mode)
		assert.ErrorIs(t, err, safedir.ErrWritable, "%v", mode)
		fi, err := os.Lstat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.ModeDir|mode, fi.Mode())
	}
}
