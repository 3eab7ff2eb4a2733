//go:build !linux

package flightrec

import "os"

// writeAllocated writes all of buf: without fallocate(2), written zeros are
// the portable way to have the blocks allocated now.
func writeAllocated(f *os.File, buf []byte, head int) error {
	_, err := f.Write(buf)
	return err
}
