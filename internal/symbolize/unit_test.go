package symbolize

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestSymtab(t *testing.T) {
	tab := newSymtab([]rawSym{
		{name: "sized", addr: 0x1000, size: 0x10, limit: 0x2000},
		{name: "alias0", addr: 0x1000, size: 0, limit: 0x2000},                // same address, no size: loses
		{name: "weakSized", addr: 0x1100, size: 0x20, limit: 0x2000, rank: 1}, // loses to the global
		{name: "globalSized", addr: 0x1100, size: 0x20, limit: 0x2000, rank: 2},
		{name: "nosize", addr: 0x1200, limit: 0x2000},
		{name: "next", addr: 0x1280, size: 8, limit: 0x2000},
		{name: "last", addr: 0x1f00, limit: 0x2000},
	})
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{0xfff, ""},
		{0x1000, "sized"},
		{0x100f, "sized"},
		{0x1010, ""}, // past a sized symbol: padding, not the symbol
		{0x1110, "globalSized"},
		{0x1200, "nosize"},
		{0x127f, "nosize"}, // a size-less symbol ends at the next one
		{0x1280, "next"},
		{0x1288, ""},
		{0x1fff, "last"}, // ... or at its section's end
		{0x2000, ""},
	} {
		s, ok := tab.lookup(tc.addr)
		assert.Equal(t, tc.want != "", ok, "%#x", tc.addr)
		assert.Equal(t, tc.want, s.name, "%#x", tc.addr)
	}
	a, ok := tab.byName("next")
	assert.True(t, ok)
	assert.Equal(t, uint64(0x1280), a)
}

func note(order binary.AppendByteOrder, align int, name string, typ uint32, desc []byte) []byte {
	pad := func(b []byte) []byte {
		for len(b)%align != 0 {
			b = append(b, 0)
		}
		return b
	}
	var b []byte
	b = order.AppendUint32(b, uint32(len(name)+1))
	b = order.AppendUint32(b, uint32(len(desc)))
	b = order.AppendUint32(b, typ)
	b = append(b, pad(append([]byte(name), 0))...)
	return append(b, pad(append([]byte(nil), desc...))...)
}

func TestGNUBuildID(t *testing.T) {
	id := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	le, be := binary.LittleEndian, binary.BigEndian // both ByteOrder and AppendByteOrder
	goNote := note(le, 4, "Go", 4, []byte("abc/def/ghi"))
	assert.Equal(t, id, gnuBuildID(append(goNote, note(le, 4, "GNU", 3, id)...), le, 4), "after another note")
	assert.Equal(t, id, gnuBuildID(note(be, 4, "GNU", 3, id), be, 4))
	assert.Equal(t, id, gnuBuildID(append(note(le, 8, "GNU", 5, []byte{1, 2, 3}), note(le, 8, "GNU", 3, id)...), le, 8), "8-aligned segment")
	assert.Nil(t, gnuBuildID(note(le, 4, "GNU", 1, id), le, 4), "NT_GNU_ABI_TAG is not a build-id")
	assert.Nil(t, gnuBuildID(note(le, 4, "XYZ", 3, id), le, 4))
	full := note(le, 4, "GNU", 3, id)
	for n := 0; n < len(full); n++ {
		assert.Nil(t, gnuBuildID(full[:n], le, 4), "truncated to %d", n)
	}
	huge := le.AppendUint32(le.AppendUint32(nil, 4), 0xffffffff)
	assert.Nil(t, gnuBuildID(append(huge, make([]byte, 20)...), le, 4))
}

func TestRecordedID(t *testing.T) {
	for _, tc := range []struct {
		rec    report.Image
		format string
		id     []byte
	}{
		{report.Image{Type: "elf", BuildID: "0A0b"}, "elf", []byte{10, 11}},
		{report.Image{BuildID: "0a0b"}, "elf", []byte{10, 11}},
		{report.Image{Type: "elf"}, "elf", nil},
		{report.Image{Type: "elf", BuildID: "xyz"}, "elf", nil},
		{report.Image{Type: "macho", UUID: "FA0D6D7B-1C23-3E2B-C127-94F5FCD98A9F"}, "macho",
			[]byte{0xfa, 0x0d, 0x6d, 0x7b, 0x1c, 0x23, 0x3e, 0x2b, 0xc1, 0x27, 0x94, 0xf5, 0xfc, 0xd9, 0x8a, 0x9f}},
		{report.Image{UUID: "fa0d6d7b1c233e2bc12794f5fcd98a9f"}, "macho",
			[]byte{0xfa, 0x0d, 0x6d, 0x7b, 0x1c, 0x23, 0x3e, 0x2b, 0xc1, 0x27, 0x94, 0xf5, 0xfc, 0xd9, 0x8a, 0x9f}},
		{report.Image{Type: "macho", UUID: "fa0d"}, "macho", nil}, // not 16 bytes
		{report.Image{}, "", nil},
	} {
		format, id := recordedID(tc.rec)
		assert.Equal(t, tc.format, format, "%+v", tc.rec)
		assert.Equal(t, tc.id, id, "%+v", tc.rec)
	}
}

func TestOpenRegular(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	f, n, err := openRegular(file)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	f.Close()

	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	_, _, err = openRegular(link)
	assert.ErrorContains(t, err, "not a regular file")
	_, _, err = openRegular(dir)
	assert.ErrorContains(t, err, "not a regular file")
	_, _, err = openRegular("f")
	assert.ErrorContains(t, err, "not absolute")

	big := filepath.Join(dir, "big")
	bf, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, bf.Truncate(maxFileSize+1)) // sparse: costs no disk
	bf.Close()
	_, _, err = openRegular(big)
	assert.ErrorContains(t, err, "cap")
}

// A corrupt pc-line table must cost one image, never the collector.
func TestGoTableCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		data := make([]byte, 16+r.IntN(256))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		binary.LittleEndian.PutUint32(data, []uint32{go12magic, go116magic, go118magic, go120magic}[i%4])
		data[6] = []byte{1, 2, 4}[r.IntN(3)] // minLC
		data[7] = []byte{4, 8}[r.IntN(2)]    // ptrSize
		g, err := newGoTable(data, binary.LittleEndian)
		if err != nil {
			continue
		}
		g.known = true
		for k := 0; k < 20; k++ {
			g.lookup(r.Uint64N(1 << 16))
		}
	}
}
