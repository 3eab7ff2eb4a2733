package scopesnap

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocate gives f size bytes of allocated blocks, so that a store into
// the mapping never needs a block the file system cannot give (a full
// disk would make it SIGBUS): fallocate(2), else written zeros.
func allocate(f *os.File, size int) error {
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err == nil {
		return nil
	}
	_, err := f.WriteAt(make([]byte, size), 0)
	return err
}
