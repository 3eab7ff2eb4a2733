package crashguard

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/crashguard/crashguard-go/internal/safedir"
)

// fallbackBase is the per-user folder under os.TempDir that holds the
// fallback directories (see candidateDirs).
func fallbackBase() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("crashguard-%d", os.Geteuid()))
}

// ensureDir creates dir (0700) when missing and checks that it is safe to
// keep crash reports in (safedir.CheckBase): a directory of this user that
// not everyone can write unless it is sticky, so nobody else can swap what
// crashguard writes, reads and removes there. A configured directory may be
// reached through a symbolic link: the user chose it, and its target is
// what is checked. The fallback's per-user folder in the shared temp
// directory may not (anyone can plant a link there): it must be a private
// directory itself (safedir.Ensure).
func ensureDir(dir string) error {
	if filepath.Dir(dir) == fallbackBase() {
		if err := safedir.Ensure(fallbackBase()); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return safedir.CheckBase(real)
}
