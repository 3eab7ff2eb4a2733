//go:build linux

package flightrec

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeAllocated writes head and allocates the file to size bytes, zeros
// after head, with fallocate(2) (mode 0 also extends the size), falling back
// to writing the zeros when the filesystem cannot allocate.
func writeAllocated(f *os.File, head []byte, size int) error {
	if _, err := f.Write(head); err != nil {
		return err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err == nil {
		return nil
	}
	_, err := f.Write(make([]byte, size-len(head)))
	return err
}
