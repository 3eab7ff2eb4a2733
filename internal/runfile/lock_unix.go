//go:build unix

package runfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

const (
	noFollow = unix.O_NOFOLLOW
	nonBlock = unix.O_NONBLOCK
)

var errWouldBlock = unix.EWOULDBLOCK

// canRenameOpen: a file can be renamed while open, as Start's take-over of
// a dead run does with the run file it holds locked.
const canRenameOpen = true

// lockFile takes an exclusive flock. flock (not fcntl) locks belong to the
// open file description, so closing another descriptor of the same file in
// this process (fcntl's trap) does not drop it.
func lockFile(f *os.File, nonBlocking bool) error {
	how := unix.LOCK_EX
	if nonBlocking {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
