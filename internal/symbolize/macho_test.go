package symbolize

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// The darwin side cannot run here, but its images can be read: prog is
// cross-compiled for darwin/arm64 (a real Mach-O with LC_UUID, linked by
// the Go linker) and symbolized as if it had been loaded at a slide. The
// expected answers come from the toolchain's own nm and addr2line, which
// do not share code with this package.

// slide is a pretend ASLR slide (a multiple of arm64's 16 KiB pages).
const slide = 0x2c8c000

// goNM returns the address of sym in the binary at path, from go tool nm.
func goNM(t testing.TB, path, sym string) uint64 {
	a, _ := goNMSize(t, path, sym)
	return a
}

// goNMSize returns the address and size of sym, from go tool nm -size.
func goNMSize(t testing.TB, path, sym string) (uint64, uint64) {
	t.Helper()
	out, err := exec.Command("go", "tool", "nm", "-size", path).Output()
	require.NoError(t, err)
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && f[3] == sym {
			a, err := strconv.ParseUint(f[0], 16, 64)
			require.NoError(t, err)
			n, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			return a, n
		}
	}
	require.Failf(t, "symbol not found", "%s in %s", sym, path)
	return 0, 0
}

// goAddr2line returns function, file and line of a file address.
func goAddr2line(t testing.TB, path string, addr uint64) (string, string, int) {
	t.Helper()
	cmd := exec.Command("go", "tool", "addr2line", path)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("%#x\n", addr))
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 2)
	i := strings.LastIndexByte(lines[1], ':')
	require.Positive(t, i)
	line, err := strconv.Atoi(lines[1][i+1:])
	require.NoError(t, err)
	return lines[0], lines[1][:i], line
}

func machoImage(t testing.TB, path string) report.Image {
	t.Helper()
	uuid, err := MachOUUID(path)
	require.NoError(t, err)
	require.Len(t, uuid, 16)
	f, err := macho.Open(path)
	require.NoError(t, err)
	defer f.Close()
	text := f.Segment("__TEXT")
	require.NotNil(t, text)
	return report.Image{
		Path: path, Type: "macho", IsMain: true,
		Base: text.Addr + slide, Size: 0x200000, ImageVMAddr: text.Addr,
		UUID: strings.ToUpper(formatUUIDForTest(uuid)),
	}
}

// formatUUIDForTest spells a UUID the way dyld tools print it.
func formatUUIDForTest(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func darwinProg(t testing.TB) string {
	return goProg(t, "prog-darwin-arm64", false, "darwin", "arm64")
}

func TestMachO(t *testing.T) {
	exe := darwinProg(t)
	img := machoImage(t, exe)
	entry := goNM(t, exe, "main.goFunc")

	s := New([]report.Image{img}, Options{})
	defer s.Close()
	for _, off := range []uint64{0, 4, 8, 0x14, 0x20} {
		fn, file, line := goAddr2line(t, exe, entry+off)
		require.Equal(t, "main.goFunc", fn, "+%#x is still inside main.goFunc", off)
		pc := entry + off + slide
		assert.Equal(t, report.Frame{
			Function: "main.goFunc", Package: "main", File: file, Line: line,
			PC: pc, Offset: off, Native: true, Image: exe,
		}, s.Frame(pc), "+%#x", off)
	}

	t.Run("wrong UUID", func(t *testing.T) {
		bad := img
		bad.UUID = strings.Repeat("0", 32)
		s := New([]report.Image{bad}, Options{})
		defer s.Close()
		pc := entry + slide
		assert.Equal(t, report.Frame{PC: pc, Native: true, Image: exe}, s.Frame(pc))
	})
	t.Run("no slide recorded, sentinel", func(t *testing.T) {
		nobase := img
		nobase.Base = 0
		sent := goNM(t, exe, "main.sentinel") + slide
		s := New([]report.Image{nobase}, Options{Sentinel: Sentinel{Symbol: "main.sentinel", Addr: sent}})
		defer s.Close()
		assert.Equal(t, "main.goFunc", s.Frame(entry+slide+8).Function)
	})
}

// TestMachOStrippedAndUniversal checks a binary linked with -s (no symbol
// for runtime.text: Go text is found as the Go linker lays it out) and the
// choice of a slice in a universal file by UUID.
func TestMachOStrippedAndUniversal(t *testing.T) {
	exe := darwinProg(t)
	sexe := goProg(t, "prog-darwin-arm64-s", false, "darwin", "arm64", "-ldflags=-s")
	entry, size := goNMSize(t, exe, "main.goFunc")
	fn, file, line := goAddr2line(t, exe, entry+8)
	require.Equal(t, "main.goFunc", fn)
	requireSameFunc(t, exe, sexe, entry, size)

	simg := machoImage(t, sexe)
	s := New([]report.Image{simg}, Options{})
	defer s.Close()
	pc := entry + 8 + slide
	assert.Equal(t, report.Frame{
		Function: "main.goFunc", Package: "main", File: file, Line: line,
		PC: pc, Offset: 8, Native: true, Image: sexe,
	}, s.Frame(pc))

	// A universal file holding both, told apart by the fat header's
	// cpusubtype only (debug/macho refuses two identical ones).
	fat := writeFat(t, sexe, exe)
	if runtime.GOARCH == "arm64" {
		// The host's own arch: the first arm64 slice's.
		got, err := MachOUUID(fat)
		require.NoError(t, err)
		want, err := MachOUUID(sexe)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	} else if _, err := MachOUUID(fat); assert.Error(t, err, "no slice for the host's GOARCH") {
		assert.Contains(t, err.Error(), "slice")
	}
	for _, src := range []string{exe, sexe} {
		img := machoImage(t, src)
		img.Path = fat
		s := New([]report.Image{img}, Options{})
		fr := s.Frame(pc)
		assert.Equal(t, "main.goFunc", fr.Function, "slice of %s", src)
		assert.Equal(t, line, fr.Line)
		s.Close()
	}
	img := machoImage(t, exe)
	img.Path, img.UUID = fat, strings.Repeat("1", 32)
	s2 := New([]report.Image{img}, Options{})
	defer s2.Close()
	assert.Equal(t, report.Frame{PC: pc, Native: true, Image: fat}, s2.Frame(pc))
}

// requireSameFunc requires the binary b to hold, at the address where a
// has the function at [entry, entry+size), the same bytes: then the
// function is at that address in b too. (The rest of the code differs:
// instructions that address data moved by -s.)
func requireSameFunc(t testing.TB, a, b string, entry, size uint64) {
	t.Helper()
	code := func(path string) []byte {
		f, err := macho.Open(path)
		require.NoError(t, err)
		defer f.Close()
		s := machoSection(f, "__TEXT", "__text")
		require.NotNil(t, s)
		require.True(t, entry >= s.Addr && entry+size <= s.Addr+s.Size)
		d := make([]byte, size)
		_, err = s.ReadAt(d, int64(entry-s.Addr))
		require.NoError(t, err)
		return d
	}
	require.Equal(t, code(a), code(b))
}

// writeFat writes a universal file of arm64 slices.
func writeFat(t testing.TB, slices ...string) string {
	t.Helper()
	const align = 14
	var hdr, body bytes.Buffer
	binary.Write(&hdr, binary.BigEndian, []uint32{0xcafebabe, uint32(len(slices))})
	off := uint32(1 << align)
	var datas [][]byte
	for i, p := range slices {
		d, err := os.ReadFile(p)
		require.NoError(t, err)
		datas = append(datas, d)
		binary.Write(&hdr, binary.BigEndian, []uint32{uint32(macho.CpuArm64), uint32(i), off, uint32(len(d)), align})
		off += (uint32(len(d)) + 1<<align - 1) &^ (1<<align - 1)
	}
	body.Write(hdr.Bytes())
	for _, d := range datas {
		body.Write(make([]byte, (body.Len()+1<<align-1)&^(1<<align-1)-body.Len()))
		body.Write(d)
	}
	path := tmpDir + "/" + t.Name() + ".fat"
	require.NoError(t, os.WriteFile(path, body.Bytes(), 0o755))
	return path
}
