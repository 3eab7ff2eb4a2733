//go:build unix

package scopesnap

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// supported is true where the mapping exists.
const supported = true

// Supported is true where Start makes a mapping (Unix); elsewhere Start
// returns ErrUnsupported and events carry no scope.
const Supported = supported

// create makes the scope file at path (never following a link, never over
// an existing file), allocates it, and maps it MAP_SHARED. The descriptor
// is closed at once: the mapping keeps the file.
func create(path string) (mem, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("scopesnap: create: %w", err)
	}
	defer f.Close()
	if err := allocate(f, FileSize); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("scopesnap: allocate: %w", err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, FileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("scopesnap: mmap: %w", err)
	}
	return mem(b), nil
}

// openFlags open a dead run's scope file: no link followed, no FIFO
// blocking the open.
const openFlags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK
