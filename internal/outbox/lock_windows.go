//go:build windows

package outbox

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/windows"
)

// canMoveOpenFiles: Go opens files without FILE_SHARE_DELETE, so Windows
// refuses to rename or delete a report while any handle to it is open. A
// claim therefore closes the report right after reading it and keeps only
// its lock file.
const canMoveOpenFiles = false

// lockExt names the lock file next to each claimed report, D/<id>.lock.
const lockExt = ".lock"

// lockReport takes the claim lock of the report at path on Windows: a
// LockFileEx lock on D/<id>.lock (not on the report itself, because
// LockFileEx locks are mandatory and would make every other reader of the
// report fail). Like flock it is dropped by the OS when the holder dies, so it
// never goes stale. The lock file is deleted on release; a delete that fails
// because another process has it open leaves an orphan that List removes.
//
// Best effort: this path is compiled for windows/amd64 but not run in CI.
func lockReport(path string, _ *os.File) (unlock func(), err error) {
	lp := strings.TrimSuffix(path, reportExt) + lockExt
	lf, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	h := windows.Handle(lf.Fd())
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		lf.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
			return nil, ErrBusy
		}
		return nil, err
	}
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, ol)
		lf.Close()
		_ = os.Remove(lp)
	}, nil
}
