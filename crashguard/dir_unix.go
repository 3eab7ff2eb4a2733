//go:build unix

package crashguard

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwnerAndMode refuses a directory of another user, or one that others
// can write: world-writable without the sticky bit (the rule that makes /tmp
// safe), or with strict, group- or world-writable at all. The error names
// the fix.
func checkOwnerAndMode(fi fs.FileInfo, strict bool) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: owned by uid %d, not by this process's uid %d; use a directory of your own (Options.Dir or CRASHGUARD_DIR)",
			errUnsafeDir, st.Uid, os.Geteuid())
	}
	perm := fi.Mode()
	switch {
	case strict && perm.Perm()&0o022 != 0:
		return fmt.Errorf("%w: mode %v is writable by others; chmod 700 it", errUnsafeDir, perm.Perm())
	case perm.Perm()&0o002 != 0 && perm&fs.ModeSticky == 0:
		return fmt.Errorf("%w: mode %v is writable by everyone without the sticky bit; chmod o-w it", errUnsafeDir, perm.Perm())
	}
	return nil
}
