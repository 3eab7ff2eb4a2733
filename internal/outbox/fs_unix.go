//go:build unix

package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkPerms: unix modes are real, so the outbox sets them exactly.
const checkPerms = true

// openNoFollow opens path read-only without following a symbolic link at its
// last component. O_NONBLOCK keeps a FIFO planted at a report name from
// blocking the open forever; it changes nothing for regular files.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		// A symlink gives ELOOP (EMLINK on FreeBSD and NetBSD).
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
			return nil, fmt.Errorf("%w: symbolic link, not followed: %w", errNotRegular, err)
		}
		return nil, err
	}
	return f, nil
}

// linkCount is the number of names the file has; 0 once it was unlinked.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// syncDir fsyncs a directory so that renames and unlinks in it survive a
// power cut. Filesystems that cannot fsync a directory say EINVAL or
// ENOTSUP; there is nothing more to do on those.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return err
}
