//go:build unix

package sessions

import (
	"os"

	"golang.org/x/sys/unix"
)

// openNoFollow opens a spooled record without following a link planted at
// its name; O_NONBLOCK keeps a FIFO from blocking the open.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}

// tryLock takes an exclusive flock without waiting.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}
