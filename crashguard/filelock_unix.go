//go:build unix

package crashguard

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockFileIn takes an exclusive flock on dir/name (created 0600, never
// through a link planted there), waiting at most wait: the lock guards a
// read-modify-write of a small file by processes sharing the directory
// (monitors, starts). It returns an unlock, or nil when the lock could not
// be had in time or the filesystem has no flock; the caller then goes on
// without it.
func lockFileIn(dir, name string, wait time.Duration) (unlock func()) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }
		}
		// Only a holder is worth waiting for: a filesystem without flock
		// (ENOLCK, EOPNOTSUPP on some network mounts) says so at once.
		if (err != unix.EWOULDBLOCK && err != unix.EINTR) || time.Now().After(deadline) {
			_ = f.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}
