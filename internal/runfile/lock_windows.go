//go:build windows

package runfile

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// Windows has no O_NOFOLLOW; reparse points in the crashguard dir are the
// user's own doing there.
const (
	noFollow = 0
	nonBlock = 0
)

var errWouldBlock = windows.ERROR_LOCK_VIOLATION

// canRenameOpen: Go opens files without FILE_SHARE_DELETE, so a file
// another handle holds open cannot be renamed: Start creates new files
// instead of taking a dead run over, and the collector removes dead runs.
const canRenameOpen = false

// lockFile takes an exclusive LockFileEx lock, which like flock is released
// when the process ends however it ends.
func lockFile(f *os.File, nonBlocking bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if nonBlocking {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_IO_PENDING) {
		return errWouldBlock
	}
	return err
}
