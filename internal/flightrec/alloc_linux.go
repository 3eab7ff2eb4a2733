//go:build linux

package flightrec

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeAllocated writes buf[:head] and allocates the file to len(buf) bytes
// of zeros with fallocate(2) (mode 0 also extends the size), falling back to
// writing the zeros when the filesystem cannot allocate.
func writeAllocated(f *os.File, buf []byte, head int) error {
	if _, err := f.Write(buf[:head]); err != nil {
		return err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(len(buf))); err == nil {
		return nil
	}
	_, err := f.Write(buf[head:])
	return err
}
