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

// create maps the scope file at path MAP_SHARED: the one runfile took
// over from a dead clean run when it is there (a regular file of
// FileSize, reset by the caller), else a new one, created without
// following a link or replacing anything and allocated. The descriptor is
// closed at once: the mapping keeps the file.
func create(path string) (m mem, reused bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err == nil {
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() && fi.Size() == FileSize {
			m, err := mapFile(f)
			_ = f.Close()
			return m, err == nil, err
		}
		_ = f.Close()
		if err == nil && fi.Mode().IsRegular() {
			_ = os.Remove(path) // another layout's: made again below
		}
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("scopesnap: create: %w", err)
	}
	defer f.Close()
	if err := allocate(f, FileSize); err != nil {
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("scopesnap: allocate: %w", err)
	}
	if m, err = mapFile(f); err != nil {
		_ = os.Remove(path)
		return nil, false, err
	}
	return m, false, nil
}

func mapFile(f *os.File) (mem, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, FileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("scopesnap: mmap: %w", err)
	}
	return mem(b), nil
}

// openFlags open a dead run's scope file: no link followed, no FIFO
// blocking the open.
const openFlags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK
