package flightrec

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flight.bin")
	before := time.Now()
	require.NoError(t, Create(path))

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(FileSize(DefaultRecords, DefaultImageCapacity())), st.Size())
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}

	f, err := ReadFile(path)
	require.NoError(t, err)
	h := f.Header
	assert.Equal(t, uint32(Version), h.Version)
	assert.Equal(t, DefaultRecords, h.RecordCount)
	assert.Equal(t, DefaultImageCapacity(), h.ImageCapacity)
	assert.Equal(t, os.Getpid(), h.PID)
	assert.WithinDuration(t, before, h.StartTime, time.Minute)
	assert.Equal(t, archOf(runtime.GOARCH), h.Arch)
	assert.Equal(t, osOf(runtime.GOOS), h.OS)
	assert.Equal(t, SentinelName, h.SentinelName)
	assert.Equal(t, uint64(reflect.ValueOf(Sentinel).Pointer()), h.SentinelPC)
	assert.Empty(t, f.Images)
	assert.Empty(t, f.Records)

	// Create never clobbers an existing file other than an unused
	// recorder (reuse_test.go).
	require.NoError(t, os.WriteFile(path, []byte("not a recorder"), 0o600))
	err = Create(path)
	assert.ErrorIs(t, err, os.ErrExist)
}

// The sentinel must be findable in the executable: its symbol's address plus
// the slide equals the runtime address. This test binary is not PIE on
// linux/amd64 by default, so the slide is whatever the loader chose (0 for
// non-PIE); either way the symbol must exist and Sentinel's runtime address
// must equal symbol value + (runtime - link) of another known function.
func TestSentinelSymbol(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF only")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	ef, err := elf.Open(exe)
	require.NoError(t, err)
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Skipf("no symbol table: %v", err)
	}
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	sent, ok := addr[SentinelName]
	require.True(t, ok, "symbol %s missing", SentinelName)
	ref, ok := addr["github.com/crashguard/crashguard-go/internal/flightrec.NewImage"]
	require.True(t, ok)
	slide := uint64(reflect.ValueOf(NewImage).Pointer()) - ref
	assert.Equal(t, sent+slide, uint64(reflect.ValueOf(Sentinel).Pointer()))
	assert.Equal(t, 0x5e47, Sentinel())
}

func sampleRecord(seq uint64) *Record {
	r := &Record{
		Seq:             seq,
		Flags:           FlagFatal | FlagFromSignal,
		Time:            time.Unix(1700000000, 123456789),
		HandlerDuration: 4321 * time.Nanosecond,
		ThreadID:        77,
		Signal:          11,
		Code:            1,
		Addr:            0xdead0,
		PC:              0x401000,
		SP:              0x7ffe0000,
		SenderPID:       0,
		MachException:   1,
		MachCode:        1,
		MachSubcode:     -2,
	}
	// The host's register set (21 on amd64, 34 on arm64): PutHeader
	// records the host's arch.
	for i := range RegisterNames(archOf(runtime.GOARCH)) {
		r.Registers = append(r.Registers, uint64(i)*0x1111)
	}
	for i := 0; i < 5; i++ {
		r.Frames = append(r.Frames, 0x401000+uint64(i)*0x10)
	}
	return r
}

func TestRoundtrip(t *testing.T) {
	b := NewImage(8, 4)
	PutHeader(b, 4242, time.Unix(1700000000, 0))
	require.NoError(t, PutNative(b, 0x400000, 0x500000, LayerSignalChain|LayerChainsToGo, 12))
	im := &Image{Path: "/usr/lib/libc.so.6", Type: ImageELF, Base: 0x7f0000000000, Size: 0x200000,
		VMAddr: 0, BuildID: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, Flags: 0}
	main := &Image{Path: "/bin/prog", Type: ImageELF, Base: 0x400000, Size: 0x100000, VMAddr: 0x400000, Flags: ImageMain}
	require.NoError(t, PutImage(b, 0, main))
	require.NoError(t, PutImage(b, 1, im))

	r1, r2 := sampleRecord(12), sampleRecord(3)
	r2.Flags = FlagGoThread | FlagGoCode | FlagFromSignal
	r2.Frames = r2.Frames[:1]
	require.NoError(t, PutRecord(b, 4, r1, StateComplete))
	require.NoError(t, PutRecord(b, 3, r2, StateComplete))

	f, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, 4242, f.Header.PID)
	assert.Equal(t, uint64(0x400000), f.Header.GoTextStart)
	assert.Equal(t, uint64(0x500000), f.Header.GoTextEnd)
	assert.Equal(t, LayerSignalChain|LayerChainsToGo, f.Header.Layers)
	assert.Equal(t, uint64(12), f.Header.NextSeq)
	assert.Equal(t, 2, f.Header.ImageCount)
	require.Len(t, f.Images, 2)
	assert.Equal(t, *main, f.Images[0])
	assert.True(t, f.Images[0].IsMain())
	assert.Equal(t, *im, f.Images[1])

	require.Len(t, f.Records, 2)
	// Oldest first.
	r2.Slot, r1.Slot = 3, 4
	assert.Equal(t, *r2, f.Records[0])
	assert.Equal(t, *r1, f.Records[1])
	assert.Equal(t, []Record{*r1}, f.Fatal())

	regs := f.RegisterMap(&f.Records[1])
	names := RegisterNames(f.Header.Arch)
	require.NotEmpty(t, names, "the host's arch %s has register names", runtime.GOARCH)
	at := func(name string) uint64 {
		return uint64(slices.Index(names, name)) * 0x1111
	}
	switch runtime.GOARCH {
	case "amd64":
		assert.Equal(t, uint64(16*0x1111), regs["rip"])
		assert.Equal(t, uint64(7*0x1111), regs["rsp"])
	case "arm64":
		assert.Equal(t, uint64(32*0x1111), regs["pc"])
		assert.Equal(t, uint64(31*0x1111), regs["sp"])
		assert.Equal(t, uint64(30*0x1111), regs["lr"])
	}
	assert.Equal(t, at(PCRegister(f.Header.Arch)), regs[PCRegister(f.Header.Arch)])
	assert.Equal(t, at(SPRegister(f.Header.Arch)), regs[SPRegister(f.Header.Arch)])
}

func TestTornRecord(t *testing.T) {
	b := NewImage(4, 0)
	r := sampleRecord(1)
	require.NoError(t, PutRecord(b, 1, r, StateWriting))
	// A torn record may hold garbage counts: they are clamped.
	off := binary.LittleEndian.Uint32(b[hRecordOffset:]) + RecordSize
	binary.LittleEndian.PutUint32(b[off+rNRegs:], 0xffffffff)
	binary.LittleEndian.PutUint32(b[off+rNFrames:], 1000)

	f, err := Decode(b)
	require.NoError(t, err)
	require.Len(t, f.Records, 1)
	got := f.Records[0]
	assert.True(t, got.Incomplete)
	assert.Equal(t, 1, got.Slot)
	assert.Len(t, got.Registers, MaxRegisters)
	assert.Len(t, got.Frames, MaxFrames)
	assert.Equal(t, r.Signal, got.Signal)
}

func TestDecodeErrors(t *testing.T) {
	good := NewImage(2, 1)
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	put32 := func(off int, v uint32) []byte {
		return mod(func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) })
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short magic", []byte("CGF"), ErrTruncated},
		{"magic", mod(func(b []byte) { b[0] = 'X' }), ErrBadMagic},
		{"elf", append([]byte("\x7fELF"), make([]byte, 600)...), ErrBadMagic},
		{"header cut", good[:100], ErrTruncated},
		{"version", put32(hVersion, 2), ErrVersion},
		{"version 0", put32(hVersion, 0), ErrVersion},
		{"header size", put32(hHeaderSize, 256), ErrLayout},
		{"record size", put32(hRecordSize, 1024), ErrLayout},
		{"image size", put32(hImageSize, 300), ErrLayout},
		{"max regs", put32(hMaxRegisters, 64), ErrLayout},
		{"max frames", put32(hMaxFrames, 128), ErrLayout},
		{"zero records", put32(hRecordCount, 0), ErrLayout},
		{"huge records", put32(hRecordCount, 1<<30), ErrLayout},
		{"huge images", put32(hImageCapacity, 1<<30), ErrLayout},
		{"image offset", put32(hImageOffset, 8), ErrLayout},
		{"record offset overlaps images", put32(hRecordOffset, HeaderSize), ErrLayout},
		{"file size", mod(func(b []byte) { binary.LittleEndian.PutUint64(b[hFileSize:], 1) }), ErrLayout},
		{"records cut", good[:len(good)-1], ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			require.Error(t, err)
			assert.True(t, errors.Is(err, c.want), "got %v, want %v", err, c.want)
		})
	}
	f, err := Decode(append(append([]byte(nil), good...), 1, 2, 3))
	require.NoError(t, err, "trailing bytes are ignored")
	assert.Empty(t, f.Records)
}

func TestReadFileErrors(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	path := filepath.Join(t.TempDir(), "junk")
	require.NoError(t, os.WriteFile(path, []byte("not a recorder at all, just text"), 0o600))
	_, err = ReadFile(path)
	assert.ErrorIs(t, err, ErrBadMagic)
}

func TestConfigLimits(t *testing.T) {
	dir := t.TempDir()
	assert.Error(t, CreateWith(filepath.Join(dir, "a"), Config{Records: MaxRecordCount + 1}))
	assert.Error(t, CreateWith(filepath.Join(dir, "b"), Config{ImageCapacity: -1}))
	require.NoError(t, CreateWith(filepath.Join(dir, "c"), Config{Records: 1, ImageCapacity: 1}))
	f, err := ReadFile(filepath.Join(dir, "c"))
	require.NoError(t, err)
	assert.Equal(t, 1, f.Header.RecordCount)
	assert.Equal(t, 1, f.Header.ImageCapacity)
}

func TestLayoutConsistent(t *testing.T) {
	sizes := map[string]int{"header": HeaderSize, "image": ImageSize, "record": RecordSize}
	seen := map[string]bool{}
	for _, f := range Layout() {
		require.False(t, seen[f.Name], "duplicate %s", f.Name)
		seen[f.Name] = true
		var st string
		for i := range f.Name {
			if f.Name[i] == '.' {
				st = f.Name[:i]
				break
			}
		}
		total, ok := sizes[st]
		require.True(t, ok, f.Name)
		assert.LessOrEqual(t, f.Offset+f.Size, total, f.Name)
		if f.Size == 8 {
			assert.Zero(t, f.Offset%8, "%s not 8-aligned", f.Name)
		}
	}
	assert.Zero(t, RecordSize%64, "records are whole cache lines")
}

func TestNames(t *testing.T) {
	assert.Len(t, RegisterNames(ArchAMD64), 21)
	assert.Len(t, RegisterNames(ArchARM64), 34)
	assert.Nil(t, RegisterNames(ArchUnknown))
	// The tables are package signals'; these check the OS mapping.
	assert.Equal(t, "SIGBUS", SignalName(OSLinux, 7))
	assert.Equal(t, "SIGBUS", SignalName(OSDarwin, 10))
	assert.Equal(t, "SIGBUS", SignalName(OSUnknown, 7), "an unknown OS is read as Linux")
	assert.Equal(t, "SIG99", SignalName(OSLinux, 99))
	assert.Equal(t, "SIG0", SignalName(OSDarwin, 0))
	assert.Equal(t, "FPE_INTDIV", CodeName(OSLinux, 8, 1))
	assert.Equal(t, "FPE_INTDIV", CodeName(OSDarwin, 8, 7))
	assert.Equal(t, "SI_TKILL", CodeName(OSUnknown, 6, -6))
	assert.Equal(t, "", CodeName(OSLinux, 11, 99))
	assert.Equal(t, "EXC_BAD_ACCESS", MachExceptionName(1))
	assert.Equal(t, "", MachExceptionName(99))
	assert.Equal(t, "KERN_INVALID_ADDRESS", MachCodeName(1, 1))
	assert.Equal(t, "fatal|go_thread|0x10000", (FlagFatal | FlagGoThread | 0x10000).String())
}

func FuzzDecode(f *testing.F) {
	b := NewImage(2, 2)
	PutHeader(b, 1, time.Unix(1, 0))
	f.Add(append([]byte(nil), b...))
	_ = PutRecord(b, 1, sampleRecord(5), StateWriting)
	_ = PutImage(b, 0, &Image{Path: "x", Type: ImageELF, BuildID: []byte{1}})
	f.Add(b)
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err == nil {
			if file == nil {
				t.Fatal("nil file without error")
			}
			for _, r := range file.Records {
				if len(r.Registers) > MaxRegisters || len(r.Frames) > MaxFrames {
					t.Fatal("unclamped counts")
				}
			}
		}
		_, _ = DecodeHeader(data)
	})
}
