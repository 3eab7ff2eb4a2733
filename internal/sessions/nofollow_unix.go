//go:build unix

package sessions

import (
	"os"
	"time"

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

// openAppend opens the log for appending, creating it 0600; never through
// a link planted at its name, never blocking on a FIFO.
func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
}

// lockShared takes a shared flock without waiting.
func lockShared(f *os.File) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil
}

// lockExclusive waits, bounded, for the writers in f to finish: they hold
// its shared lock only for one write. It returns without the lock after
// about a second (a writer that stopped mid-line), and the read goes on.
func lockExclusive(f *os.File) {
	for i := 0; i < 1000; i++ {
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Supported says whether sessions can be sent from this OS.
const Supported = true
