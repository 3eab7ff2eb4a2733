package crashguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errUnsafeDir is why a directory was refused although it exists.
var errUnsafeDir = errors.New("unsafe directory")

// fallbackBase is the per-user folder under os.TempDir that holds the
// fallback directories (see candidateDirs).
func fallbackBase() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("crashguard-%d", os.Geteuid()))
}

// ensureDir creates dir (0700) when missing and checks that it is safe to
// keep crash reports in: a directory, owned by this user, not writable by
// everyone unless sticky (like /tmp), so that nobody else can swap the files
// crashguard writes, reads and removes there. A configured directory may be
// reached through a symbolic link (the user chose it); the fallback's
// per-user folder in a shared temp directory may not, because anyone can
// plant a link there.
func ensureDir(dir string) error {
	if filepath.Dir(dir) == fallbackBase() {
		if err := ensureStrictDir(fallbackBase()); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: not a directory", errUnsafeDir)
	}
	return checkOwnerAndMode(fi, false)
}

// ensureStrictDir creates dir 0700 if missing and accepts it only as a real
// directory (not a link) of this user that nobody else can write.
func ensureStrictDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link; remove it", errUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory; remove it", errUnsafeDir, dir)
	}
	if err := checkOwnerAndMode(fi, true); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
