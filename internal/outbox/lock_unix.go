//go:build unix

package outbox

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// canMoveOpenFiles: unix unlinks and renames open files, so a claim keeps
// the report open (its descriptor holds the lock) until it ends.
const canMoveOpenFiles = true

// lockExt is the extension of a separate lock file; unix locks the report
// itself and needs none.
const lockExt = ""

// lockReport takes a non-blocking exclusive flock on the open report f.
// flock (not fcntl) locks belong to the open file description: a second
// open of the same file, in this process or another, is refused, and the
// kernel drops the lock however the holder dies, so no lock goes stale.
func lockReport(_ string, f *os.File) (unlock func(), err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	})
	if err == nil {
		err = ferr
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, err
	}
	return func() {
		// Closing f drops the lock too; unlocking first makes the release
		// independent of any duplicated descriptor.
		_ = rc.Control(func(fd uintptr) { _ = unix.Flock(int(fd), unix.LOCK_UN) })
	}, nil
}
