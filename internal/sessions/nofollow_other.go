//go:build !unix

package sessions

import "os"

// openNoFollow: no O_NOFOLLOW here; the directory is checked by safedir.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }

// tryLock: without a cross-process lock here two processes could send the
// same sessions and count a run twice, so sessions are sent on unix only:
// the lock is never had.
func tryLock(*os.File) (bool, error) { return false, nil }

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// lockShared: no locking here (nothing is sent, see tryLock).
func lockShared(*os.File) bool { return true }

func lockExclusive(*os.File) {}

// Supported says whether sessions can be sent from this OS: not without a
// cross-process lock (see tryLock), so runs here are no sessions at all
// rather than ends spooled that nothing sends.
const Supported = false
