package safedir

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnsureCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "runs")
	require.NoError(t, Ensure(dir))
	require.NoError(t, Check(dir))
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o700, fi.Mode())
}

func TestEnsureNarrowsReadableDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes on windows")
	}
	dir := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, Ensure(dir))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o700, fi.Mode(), "readable by others is narrowed, not refused")
}

func TestSymlinkRefused(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "elsewhere")
	require.NoError(t, os.Mkdir(target, 0o700))
	link := filepath.Join(base, "runs")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	for name, f := range map[string]func(string) error{"Check": Check, "Ensure": Ensure, "CheckBase": CheckBase} {
		err := f(link)
		require.Error(t, err, name)
		assert.ErrorIs(t, err, ErrUnsafe, name)
		assert.ErrorIs(t, err, ErrSymlink, name)
		assert.NotErrorIs(t, err, ErrNotOwner, name)
		assert.Contains(t, err.Error(), link, name)
		assert.Contains(t, err.Error(), "replace the link with a real directory", name)
	}
	dangling := filepath.Join(base, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(base, "missing"), dangling))
	assert.ErrorIs(t, Ensure(dangling), ErrSymlink)
	assert.NoDirExists(t, filepath.Join(base, "missing"), "Ensure never creates a link's target")
}

func TestNotDirRefused(t *testing.T) {
	f := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
	for _, err := range []error{Check(f), Ensure(f), CheckBase(f)} {
		assert.ErrorIs(t, err, ErrUnsafe)
		assert.ErrorIs(t, err, ErrNotDir)
	}
}

func TestMissingIsNotUnsafe(t *testing.T) {
	err := Check(filepath.Join(t.TempDir(), "nope"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotErrorIs(t, err, ErrUnsafe)
}

func TestWritableByOthersRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes on windows")
	}
	for _, mode := range []fs.FileMode{0o770, 0o702, 0o777, 0o777 | fs.ModeSticky} {
		dir := filepath.Join(t.TempDir(), "runs")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		for name, f := range map[string]func(string) error{"Check": Check, "Ensure": Ensure} {
			err := f(dir)
			assert.ErrorIs(t, err, ErrUnsafe, "%s %v", name, mode)
			assert.ErrorIs(t, err, ErrWritable, "%s %v", name, mode)
			assert.Contains(t, err.Error(), "chmod go-w "+dir, "%s %v", name, mode)
		}
		fi, err := os.Lstat(dir)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeDir|mode, fi.Mode(), "a refused directory is left as it was")
	}
}

func TestCheckBaseStickyRule(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes on windows")
	}
	for _, c := range []struct {
		mode    fs.FileMode
		wantErr bool
	}{
		{0o700, false},
		{0o755, false},
		{0o770, false}, // a shared group directory is the user's own choice
		{0o775 | fs.ModeSticky, false},
		{0o777 | fs.ModeSticky, false}, // like /tmp: others cannot touch our names
		{0o703 | fs.ModeSticky, false},
		{0o733, true}, // others may write, no sticky bit
		{0o702, true},
		{0o757, true},
		{0o777, true},
		{0o777 | fs.ModeSetgid, true},
	} {
		mode, wantErr := c.mode, c.wantErr
		dir := filepath.Join(t.TempDir(), "base")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		err := CheckBase(dir)
		if wantErr {
			assert.ErrorIs(t, err, ErrWritable, "%v", mode)
			assert.Contains(t, err.Error(), "chmod o-w "+dir, "%v", mode)
		} else {
			assert.NoError(t, err, "%v", mode)
		}
	}
}

func TestOtherUsersDirRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("ownership is not checked on windows")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to nobody (uid 65534)")
	}
	dir := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	for name, f := range map[string]func(string) error{"Check": Check, "Ensure": Ensure, "CheckBase": CheckBase} {
		err := f(dir)
		assert.ErrorIs(t, err, ErrUnsafe, name)
		assert.ErrorIs(t, err, ErrNotOwner, name)
		assert.Contains(t, err.Error(), "uid 65534", name)
	}
}
