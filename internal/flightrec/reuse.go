package flightrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrUsed is returned by Unused and by Create for an existing recorder in
// which a record was claimed: it may hold evidence and is never reused.
var ErrUsed = errors.New("flightrec: recorder holds records")

// Unused reports whether the file at path is a flight recorder of the
// default layout for this OS (Create's) in which no record was ever
// claimed: its header's next_seq is 0, so every record slot is still zero
// and the file holds no evidence of a fault. It reads only the header, so a
// collector can tell a clean run from one to decode without reading the
// whole file. A file that is not such a recorder (another layout, damaged,
// not a regular file) is not unused: the caller decodes it the full way.
// A missing file gives an error matching fs.ErrNotExist.
func Unused(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow|nonBlock, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	ok, err := unusedHeader(f)
	if errors.Is(err, ErrUsed) {
		return false, nil
	}
	return ok, err
}

// unusedHeader checks that f is a regular file holding a recorder of the
// default layout with no record ever claimed. It returns false with a nil
// error for a file that is not such a recorder, ErrUsed when records were
// claimed.
func unusedHeader(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	size := FileSize(DefaultRecords, DefaultImageCapacity())
	if !st.Mode().IsRegular() || st.Size() != int64(size) {
		return false, nil
	}
	var b [HeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	// Everything but the per-process fields must be what Create writes
	// for the default layout; the per-process fields are rewritten.
	want := make([]byte, HeaderSize)
	putStatic(want, DefaultRecords, DefaultImageCapacity())
	for _, r := range [][2]int{{0, hPID}, {hFileSize, hFileSize + 8}} {
		if !bytes.Equal(b[r[0]:r[1]], want[r[0]:r[1]]) {
			return false, nil
		}
	}
	if binary.LittleEndian.Uint64(b[hNextSeq:]) != 0 {
		return false, ErrUsed
	}
	return true, nil
}

// reuse writes head (the whole header for this process: next_seq,
// image_count, layers and the Go text bounds start again from zero) over
// the unused recorder at path (see CreateWith). Image slots beyond
// image_count are ignored by readers and rewritten by the native install.
// It returns an error matching fs.ErrExist when the file is not a recorder
// that can be reused.
func reuse(path string, records, images int, head []byte) error {
	if records != DefaultRecords || images != DefaultImageCapacity() {
		return fmt.Errorf("flightrec: create: %w", fs.ErrExist)
	}
	f, err := os.OpenFile(path, os.O_RDWR|noFollow|nonBlock, 0)
	if err != nil {
		return fmt.Errorf("flightrec: create: %w", err)
	}
	defer f.Close()
	ok, err := unusedHeader(f)
	if err != nil || !ok {
		return fmt.Errorf("flightrec: create: %s exists and is not an unused recorder: %w", path, errors.Join(fs.ErrExist, err))
	}
	if _, err := f.WriteAt(head, 0); err != nil {
		return fmt.Errorf("flightrec: rewrite %s: %w", path, err)
	}
	return nil
}
