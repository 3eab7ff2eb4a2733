package flightrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Errors returned by Decode and ReadFile, wrapped with details; match them
// with errors.Is.
var (
	// ErrBadMagic: the data does not start with Magic.
	ErrBadMagic = errors.New("flightrec: not a flight recorder (bad magic)")
	// ErrVersion: the layout version is not Version.
	ErrVersion = errors.New("flightrec: unsupported version")
	// ErrLayout: the header's sizes or offsets do not describe a valid
	// version-1 layout.
	ErrLayout = errors.New("flightrec: invalid layout")
	// ErrTruncated: the data is shorter than the header says.
	ErrTruncated = errors.New("flightrec: truncated")
)

// maxFileSize bounds what ReadFile will read.
var maxFileSize = FileSize(MaxRecordCount, MaxImageCapacity)

// ReadFile reads and decodes the recorder at path. It reads at most the
// largest size a valid recorder can have.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxFileSize)+1))
	if err != nil {
		return nil, err
	}
	return Decode(data)
}

// DecodeHeader validates and decodes the header at the start of data
// (at least HeaderSize bytes). It does not check that data holds the whole
// file; Decode does.
func DecodeHeader(data []byte) (*Header, error) {
	h, _, err := decodeHeader(data)
	return h, err
}

type geometry struct {
	imageOff, recordOff, fileSize int
}

func decodeHeader(data []byte) (*Header, geometry, error) {
	var g geometry
	if len(data) < len(Magic) || !bytes.Equal(data[:len(Magic)], []byte(Magic)) {
		if len(data) < len(Magic) {
			return nil, g, fmt.Errorf("%w: %d bytes", ErrTruncated, len(data))
		}
		return nil, g, fmt.Errorf("%w: % x", ErrBadMagic, data[:len(Magic)])
	}
	if len(data) < HeaderSize {
		return nil, g, fmt.Errorf("%w: header needs %d bytes, have %d", ErrTruncated, HeaderSize, len(data))
	}
	le := binary.LittleEndian
	u32 := func(off int) uint32 { return le.Uint32(data[off:]) }
	u64 := func(off int) uint64 { return le.Uint64(data[off:]) }

	if v := u32(hVersion); v != Version {
		return nil, g, fmt.Errorf("%w: version %d, this reader knows %d", ErrVersion, v, Version)
	}
	for _, c := range []struct {
		name      string
		off, want int
	}{
		{"header_size", hHeaderSize, HeaderSize},
		{"record_size", hRecordSize, RecordSize},
		{"image_size", hImageSize, ImageSize},
		{"max_registers", hMaxRegisters, MaxRegisters},
		{"max_frames", hMaxFrames, MaxFrames},
	} {
		if got := u32(c.off); got != uint32(c.want) {
			return nil, g, fmt.Errorf("%w: %s %d, want %d", ErrLayout, c.name, got, c.want)
		}
	}
	records := u32(hRecordCount)
	capacity := u32(hImageCapacity)
	if records < 1 || records > MaxRecordCount {
		return nil, g, fmt.Errorf("%w: record_count %d", ErrLayout, records)
	}
	if capacity > MaxImageCapacity {
		return nil, g, fmt.Errorf("%w: image_capacity %d", ErrLayout, capacity)
	}
	// All values are bounded above, so int arithmetic cannot overflow.
	g.imageOff = int(u32(hImageOffset))
	g.recordOff = int(u32(hRecordOffset))
	g.fileSize = g.recordOff + int(records)*RecordSize
	switch {
	case g.imageOff < HeaderSize || g.imageOff%8 != 0:
		return nil, g, fmt.Errorf("%w: image_offset %d", ErrLayout, g.imageOff)
	case g.recordOff < g.imageOff+int(capacity)*ImageSize || g.recordOff%8 != 0:
		return nil, g, fmt.Errorf("%w: record_offset %d", ErrLayout, g.recordOff)
	case g.recordOff > maxFileSize:
		return nil, g, fmt.Errorf("%w: record_offset %d", ErrLayout, g.recordOff)
	case u64(hFileSize) != uint64(g.fileSize):
		return nil, g, fmt.Errorf("%w: file_size %d, layout says %d", ErrLayout, u64(hFileSize), g.fileSize)
	}

	h := &Header{
		Version:       Version,
		RecordCount:   int(records),
		ImageCapacity: int(capacity),
		ImageCount:    int(min(u32(hImageCount), capacity)),
		Arch:          Arch(u32(hArch)),
		OS:            OS(u32(hOS)),
		PID:           int(int64(u64(hPID))),
		StartTime:     time.Unix(0, int64(u64(hStartTime))),
		SentinelPC:    u64(hSentinelPC),
		SentinelName:  cString(data[hSentinelName : hSentinelName+MaxSentinelName]),
		GoTextStart:   u64(hGoTextStart),
		GoTextEnd:     u64(hGoTextEnd),
		NextSeq:       u64(hNextSeq),
		Layers:        Layers(u32(hLayers)),
	}
	return h, g, nil
}

// Decode decodes a whole recorder: header, the image slots that were
// written, and every non-empty record (complete ones, and torn ones marked
// Incomplete). It never panics, whatever data holds; a header that does not
// validate gives an error matching ErrBadMagic, ErrVersion, ErrLayout or
// ErrTruncated. Bytes past the end of the layout are ignored.
func Decode(data []byte) (*File, error) {
	h, g, err := decodeHeader(data)
	if err != nil {
		return nil, err
	}
	if len(data) < g.fileSize {
		return nil, fmt.Errorf("%w: file is %d bytes, layout needs %d", ErrTruncated, len(data), g.fileSize)
	}
	f := &File{Header: *h}
	for i := 0; i < h.ImageCapacity; i++ {
		b := data[g.imageOff+i*ImageSize : g.imageOff+(i+1)*ImageSize]
		if im, ok := decodeImage(b); ok {
			f.Images = append(f.Images, im)
		}
	}
	for i := 0; i < h.RecordCount; i++ {
		b := data[g.recordOff+i*RecordSize : g.recordOff+(i+1)*RecordSize]
		if r, ok := decodeRecord(b, i); ok {
			f.Records = append(f.Records, r)
		}
	}
	sort.SliceStable(f.Records, func(i, j int) bool { return f.Records[i].Seq < f.Records[j].Seq })
	return f, nil
}

func decodeImage(b []byte) (Image, bool) {
	le := binary.LittleEndian
	state := le.Uint32(b[iState:])
	if state == StateEmpty {
		return Image{}, false
	}
	n := int(b[iBuildIDLen])
	if n > MaxBuildID {
		n = MaxBuildID
	}
	im := Image{
		Path:       cString(b[iPath : iPath+MaxPath]),
		Type:       ImageType(b[iType]),
		Base:       le.Uint64(b[iBase:]),
		Size:       le.Uint64(b[iSize:]),
		VMAddr:     le.Uint64(b[iVMAddr:]),
		Flags:      le.Uint16(b[iFlags:]),
		Incomplete: state != StateComplete,
	}
	if n > 0 {
		im.BuildID = append([]byte(nil), b[iBuildID:iBuildID+n]...)
	}
	return im, true
}

func decodeRecord(b []byte, slot int) (Record, bool) {
	le := binary.LittleEndian
	state := le.Uint32(b[rState:])
	if state == StateEmpty {
		return Record{}, false
	}
	nregs := min(int(le.Uint32(b[rNRegs:])), MaxRegisters)
	nframes := min(int(le.Uint32(b[rNFrames:])), MaxFrames)
	r := Record{
		Slot:            slot,
		Seq:             le.Uint64(b[rSeq:]),
		Incomplete:      state != StateComplete,
		Flags:           Flags(le.Uint32(b[rFlags:])),
		Time:            time.Unix(0, int64(le.Uint64(b[rTime:]))),
		HandlerDuration: time.Duration(le.Uint32(b[rHandlerNS:])),
		ThreadID:        le.Uint64(b[rThreadID:]),
		Signal:          int(int32(le.Uint32(b[rSignal:]))),
		Code:            int(int32(le.Uint32(b[rCode:]))),
		Addr:            le.Uint64(b[rAddr:]),
		PC:              le.Uint64(b[rPC:]),
		SP:              le.Uint64(b[rSP:]),
		SenderPID:       int(int32(le.Uint32(b[rSenderPID:]))),
		MachException:   int(int32(le.Uint32(b[rMachException:]))),
		MachCode:        int64(le.Uint64(b[rMachCode:])),
		MachSubcode:     int64(le.Uint64(b[rMachSubcode:])),
		Registers:       make([]uint64, nregs),
		Frames:          make([]uint64, nframes),
	}
	for i := range r.Registers {
		r.Registers[i] = le.Uint64(b[rRegs+8*i:])
	}
	for i := range r.Frames {
		r.Frames[i] = le.Uint64(b[rFrames+8*i:])
	}
	return r, true
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
