//go:build unix

package crashguard

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockFileIn takes an exclusive flock on dir/name (created 0600, never
// through a link planted there), waiting at most wait: the lock guards a
// read-modify-write of a small file by processes sharing the directory
// (monitors, starts). It returns an unlock, or nil when the lock could not
// be had in time; the caller then goes on without it.
func lockFileIn(dir, name string, wait time.Duration) (unlock func()) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			return func() { _ = f.Close() }
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}
