//go:build unix

package safedir

import (
	"io/fs"
	"os"
	"syscall"
)

// checkPerms: unix modes are real, so they are checked and set exactly.
const checkPerms = true

// owner returns the uid owning fi and whether it is this process's
// effective user.
func owner(fi fs.FileInfo) (uid int, mine bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, true
	}
	return int(st.Uid), int(st.Uid) == os.Geteuid()
}
