package flightrec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"runtime"
	"time"
)

// DefaultRecords is the default number of record slots. 32 records hold
// every thread of a burst of simultaneous faults in most programs; the ring
// wraps for more, and a new record prefers to overwrite one written cheaply
// for a fault in Go code over a fatal or native one (cg_recorder.c).
const DefaultRecords = 32

// DefaultImageCapacity returns the default number of image slots for the
// running OS: darwin processes map hundreds of system dylibs from the
// shared cache, Linux ones a handful of shared objects.
func DefaultImageCapacity() int {
	if runtime.GOOS == "darwin" {
		return 1024
	}
	return 256
}

// Config sizes a new recorder. Zero fields take the defaults.
type Config struct {
	Records       int
	ImageCapacity int
}

// Sentinel is the function whose runtime address Create writes into the
// header (sentinel_pc, named by sentinel_name), so that Go PCs in a crash
// can be corrected for ASLR: slide = SentinelPC - address of
// SentinelName in the executable's symbol table (or pclntab).
//
// Its address is taken with reflect.Value.Pointer, which for a top-level
// function is the function's entry point. It is never called.
//
//go:noinline
func Sentinel() int { return 0x5e47 }

// SentinelName is the symbol name of Sentinel as the Go linker writes it.
const SentinelName = "github.com/crashguard/crashguard-go/internal/flightrec.Sentinel"

// Create creates a new flight recorder file at path with the default sizes.
// See CreateWith.
func Create(path string) error { return CreateWith(path, Config{}) }

// CreateWith creates a new flight recorder file at path: a file of its full
// size with every block allocated now (fallocate where the filesystem has
// it, else zeros written), so that a full disk cannot turn a crash-time store
// into SIGBUS, with the header filled in for this process. The file is 0600
// and opened without following a link at path.
//
// An existing file at path is never clobbered (the error matches
// fs.ErrExist), with one exception: a recorder of the default layout in
// which no record was ever claimed (Unused), which is what runfile.Start
// hands over from a dead run that ended cleanly. Its blocks are allocated
// and its record slots still zero, so only its header is rewritten: cheaper
// than a new file (no inode, no allocation) and the same recorder.
func CreateWith(path string, cfg Config) error {
	records := cfg.Records
	if records == 0 {
		records = DefaultRecords
	}
	images := cfg.ImageCapacity
	if images == 0 {
		images = DefaultImageCapacity()
	}
	if records < 1 || records > MaxRecordCount {
		return fmt.Errorf("flightrec: record count %d out of range [1, %d]", records, MaxRecordCount)
	}
	if images < 0 || images > MaxImageCapacity {
		return fmt.Errorf("flightrec: image capacity %d out of range [0, %d]", images, MaxImageCapacity)
	}
	head := make([]byte, HeaderSize)
	putStatic(head, records, images)
	PutHeader(head, os.Getpid(), time.Now())

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return reuse(path, records, images, head)
	}
	if err != nil {
		return fmt.Errorf("flightrec: create: %w", err)
	}
	// Only the header holds non-zero bytes. Allocating the rest instead of
	// writing it keeps Install cheap: it runs at every start.
	if err := writeAllocated(f, head, FileSize(records, images)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("flightrec: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("flightrec: close %s: %w", path, err)
	}
	return nil
}

// NewImage returns a zeroed buffer the size of a recorder with the given
// slot counts, with the static part of the header (magic, version, sizes,
// offsets, arch, OS) written. PutHeader adds the process fields. Exposed for
// tests and tools that build recorder bytes in memory.
func NewImage(records, imageCapacity int) []byte {
	b := make([]byte, FileSize(records, imageCapacity))
	putStatic(b, records, imageCapacity)
	return b
}

// putStatic writes the static part of the header into b (HeaderSize bytes
// at least).
func putStatic(b []byte, records, imageCapacity int) {
	le := binary.LittleEndian
	copy(b[hMagic:], Magic)
	le.PutUint32(b[hVersion:], Version)
	le.PutUint32(b[hHeaderSize:], HeaderSize)
	le.PutUint32(b[hRecordSize:], RecordSize)
	le.PutUint32(b[hRecordCount:], uint32(records))
	le.PutUint32(b[hRecordOffset:], uint32(recordOffset(imageCapacity)))
	le.PutUint32(b[hImageSize:], ImageSize)
	le.PutUint32(b[hImageCapacity:], uint32(imageCapacity))
	le.PutUint32(b[hImageOffset:], HeaderSize)
	le.PutUint32(b[hArch:], uint32(archOf(runtime.GOARCH)))
	le.PutUint32(b[hOS:], uint32(osOf(runtime.GOOS)))
	le.PutUint32(b[hMaxRegisters:], MaxRegisters)
	le.PutUint32(b[hMaxFrames:], MaxFrames)
	le.PutUint64(b[hFileSize:], uint64(FileSize(records, imageCapacity)))
}

// PutHeader writes the process fields of the header: pid, start time and the
// sentinel (the runtime address of Sentinel in this process).
func PutHeader(b []byte, pid int, start time.Time) {
	le := binary.LittleEndian
	le.PutUint64(b[hPID:], uint64(pid))
	le.PutUint64(b[hStartTime:], uint64(start.UnixNano()))
	le.PutUint64(b[hSentinelPC:], uint64(reflect.ValueOf(Sentinel).Pointer()))
	name := b[hSentinelName : hSentinelName+MaxSentinelName]
	clear(name)
	copy(name[:MaxSentinelName-1], SentinelName)
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

func archOf(goarch string) Arch {
	switch goarch {
	case "amd64":
		return ArchAMD64
	case "arm64":
		return ArchARM64
	}
	return ArchUnknown
}

func osOf(goos string) OS {
	switch goos {
	case "linux", "android":
		return OSLinux
	case "darwin", "ios":
		return OSDarwin
	}
	return OSUnknown
}

// recordOffset is where the records start: after the header and the image
// table (which starts right after the header), on a cache line.
func recordOffset(imageCapacity int) int {
	return alignUp(HeaderSize+imageCapacity*ImageSize, 64)
}

// FileSize returns the size of a recorder file with the given slot counts.
func FileSize(records, imageCapacity int) int {
	return recordOffset(imageCapacity) + records*RecordSize
}
