//go:build !linux

package flightrec

import "os"

// writeAllocated writes head and zeros up to size: without fallocate(2),
// written zeros are the portable way to have the blocks allocated now.
func writeAllocated(f *os.File, head []byte, size int) error {
	b := make([]byte, size)
	copy(b, head)
	_, err := f.Write(b)
	return err
}
