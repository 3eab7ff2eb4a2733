//go:build !linux

package scopesnap

import "os"

// allocate writes size zero bytes: without fallocate(2), the portable way
// to have the blocks allocated now, so a store into the mapping never
// needs one the file system cannot give.
func allocate(f *os.File, size int) error {
	_, err := f.WriteAt(make([]byte, size), 0)
	return err
}
