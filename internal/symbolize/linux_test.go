//go:build linux

package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// cFuncLine is the line of c_crash_here's declarator in cfuncs.c.
func cFuncLine(t testing.TB) int {
	return lineOf(t, "testdata/prog/cfuncs.c", "int c_crash_here(int x) {")
}

// cEntryLine is the line of a C function's first instruction, as
// addr2line gives it: its first statement's on amd64 (the entry address has
// a row for the declarator and, last, one for the statement), the
// declarator's on arm64 (GCC gives the frame set-up an address of its own).
func cEntryLine(t testing.TB, file, decl, stmt string) int {
	if runtime.GOARCH == "arm64" {
		return lineOf(t, file, decl)
	}
	return lineOf(t, file, stmt)
}

func cCrashHereEntryLine(t testing.TB) int {
	return cEntryLine(t, "testdata/prog/cfuncs.c", "int c_crash_here(int x) {", "volatile int y = x * 7;")
}

func absPath(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	require.NoError(t, err)
	return p
}

func lineOf(t testing.TB, file, text string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	require.Failf(t, "line not found", "%q in %s", text, file)
	return 0
}

// checkGo asserts that every Go probe of po symbolizes exactly as the
// crashed process's runtime said, with Package and Offset.
func checkGo(t *testing.T, s *Symbolizer, po progOutput, exe string) {
	t.Helper()
	entry := po.Go[0].PC
	for _, p := range po.Go {
		fr := s.Frame(p.PC)
		assert.Equal(t, report.Frame{
			Function: "main.goFunc", Package: "main", File: p.File, Line: p.Line,
			PC: p.PC, Offset: p.PC - entry, Native: true, Image: exe,
		}, fr, "pc %#x", p.PC)
	}
	// The sentinel function, too.
	fr := s.Frame(po.Sentinel)
	assert.Equal(t, "main.sentinel", fr.Function)
	assert.Equal(t, lineOf(t, "testdata/prog/main.go", "func sentinel() int"), fr.Line)
}

// checkC asserts that c_crash_here and pcs inside it symbolize to it, with
// its file and line from DWARF.
func checkC(t *testing.T, s *Symbolizer, po progOutput, exe string) {
	t.Helper()
	require.NotZero(t, po.C)
	cfile := absPath(t, "testdata/prog/cfuncs.c")
	// At the entry, the line table has (amd64) a row for the declarator
	// and, at the same address, one for the first statement; like
	// addr2line, the lookup answers with the last row at the address: the
	// statement. On arm64 the entry is the declarator's alone.
	assert.Equal(t, report.Frame{
		Function: "c_crash_here", File: cfile, Line: cCrashHereEntryLine(t),
		PC: po.C, Native: true, Image: exe,
	}, s.Frame(po.C))
	for _, off := range []uint64{1, 4, 8} {
		fr := s.Frame(po.C + off)
		assert.Equal(t, "c_crash_here", fr.Function, "+%d", off)
		assert.Equal(t, off, fr.Offset)
		assert.Equal(t, cfile, fr.File)
		assert.GreaterOrEqual(t, fr.Line, cCrashHereEntryLine(t))
		assert.LessOrEqual(t, fr.Line, cFuncLine(t)+3)
	}
}

func TestCgoExecutable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"cgo-exe", nil},
		{"cgo-pie", []string{"-buildmode=pie"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := goProg(t, tc.name, true, "", "", tc.flags...)
			po := runProg(t, exe)
			main := imageOf(t, po, exe)
			require.True(t, main.IsMain)
			require.NotEmpty(t, main.BuildID)
			want, err := BuildID(exe)
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(want), main.BuildID, "CurrentImages in the child and BuildID on the file")

			s := New(po.Images, Options{})
			defer s.Close()
			checkGo(t, s, po, exe)
			checkC(t, s, po, exe)
		})
	}
}

func TestPureGoExecutable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"go-exe", nil},
		{"go-pie", []string{"-buildmode=pie"}},
		{"go-exe-s", []string{"-ldflags=-s -w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := goProg(t, tc.name, false, "", "", tc.flags...)
			po := runProg(t, exe)
			main := imageOf(t, po, exe)
			require.True(t, main.IsMain)
			s := New(po.Images, Options{})
			defer s.Close()
			checkGo(t, s, po, exe)
		})
	}
}

func TestSharedLibrary(t *testing.T) {
	lib := cLib(t)
	exe := goProg(t, "cgo-exe", true, "", "")
	po := runProg(t, exe, lib)
	require.NotZero(t, po.Lib)
	img := imageOf(t, po, lib)
	want, err := BuildID(lib)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(want), img.BuildID)
	require.False(t, img.IsMain)

	s := New(po.Images, Options{})
	defer s.Close()
	// Entry: the first statement's line, as addr2line says (checked below).
	fr := s.Frame(po.Lib)
	assert.Equal(t, report.Frame{
		Function: "lib_func", File: absPath(t, "testdata/lib/lib.c"), Line: cEntryLine(t, "testdata/lib/lib.c", "int lib_func(int x) {", "return lib_helper(x) + 3;"),
		PC: po.Lib, Native: true, Image: lib,
	}, fr)
	if _, err := exec.LookPath(cTool("addr2line")); err == nil {
		for _, off := range []uint64{0, 1, 5, 8} {
			out, err := exec.Command(cTool("addr2line"), "-f", "-e", lib, fmt.Sprintf("%#x", po.Lib+off-img.Base)).Output()
			require.NoError(t, err)
			fr := s.Frame(po.Lib + off)
			assert.Equal(t, fmt.Sprintf("%s\n%s:%d\n", fr.Function, fr.File, fr.Line), string(out), "addr2line at +%d", off)
		}
	}

	// The stripped library keeps lib_func in .dynsym, and loses its
	// static helper and all line info.
	slib := stripped(t, lib)
	imgs := replaceImage(po.Images, lib, func(i *report.Image) { i.Path = slib })
	s2 := New(imgs, Options{})
	defer s2.Close()
	assert.Equal(t, report.Frame{Function: "lib_func", PC: po.Lib, Native: true, Image: slib}, s2.Frame(po.Lib))
	helper := po.Lib - elfSymbol(t, lib, "lib_func") + elfSymbol(t, lib, "lib_helper")
	assert.Equal(t, report.Frame{PC: helper, Native: true, Image: slib}, s2.Frame(helper), "static function, stripped")

	// With its separate debug file (objcopy --only-keep-debug, found by
	// build-id) the stripped library has it all back.
	requireTool(t, cTool("objcopy"))
	h := img.BuildID
	debugRoot := filepath.Join(tmpDir, "debugroot")
	dbg := filepath.Join(debugRoot, ".build-id", h[:2], h[2:]+".debug")
	require.NoError(t, os.MkdirAll(filepath.Dir(dbg), 0o755))
	require.NoError(t, run(".", nil, cTool("objcopy"), "--only-keep-debug", lib, dbg))
	s3 := New(imgs, Options{DebugDirs: []string{t.TempDir(), debugRoot}})
	defer s3.Close()
	assert.Equal(t, report.Frame{
		Function: "lib_helper", File: absPath(t, "testdata/lib/lib.c"), Line: cEntryLine(t, "testdata/lib/lib.c", "static int lib_helper(int x) {", "volatile int y = x;"),
		PC: helper, Native: true, Image: slib,
	}, s3.Frame(helper))
	assert.Equal(t, s.Frame(po.Lib+5), func() report.Frame { f := s3.Frame(po.Lib + 5); f.Image = lib; return f }())

	// A debug file with another build-id is not used.
	other := filepath.Join(tmpDir, "debugroot-other")
	odbg := filepath.Join(other, ".build-id", h[:2], h[2:]+".debug")
	require.NoError(t, os.MkdirAll(filepath.Dir(odbg), 0o755))
	require.NoError(t, run(".", nil, cTool("gcc"), "-shared", "-fPIC", "-g", "-Wl,--build-id", "-o", odbg, "testdata/lib/lib.c"))
	s4 := New(imgs, Options{DebugDirs: []string{other}})
	defer s4.Close()
	assert.Empty(t, s4.Frame(helper).Function)
}

// elfSymbol returns the value of a symbol of the ELF file at path.
func elfSymbol(t testing.TB, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.Symbols()
	require.NoError(t, err)
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	require.Failf(t, "no symbol", "%s in %s", name, path)
	return 0
}

func replaceImage(imgs []report.Image, path string, f func(*report.Image)) []report.Image {
	out := append([]report.Image(nil), imgs...)
	for i := range out {
		if out[i].Path == path {
			f(&out[i])
		}
	}
	return out
}

// logBuffer returns a debug logger into a buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

func TestNotTheLoadedImage(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(t, exe)
	pcs := []uint64{po.Go[0].PC, po.C}
	for _, tc := range []struct {
		name   string
		change func(*report.Image)
		log    string
	}{
		{"wrong build-id", func(i *report.Image) { i.BuildID = strings.Repeat("ab", 20) }, "not the loaded image"},
		{"no build-id", func(i *report.Image) { i.BuildID = "" }, "no build-id/UUID recorded"},
		{"recorded as Mach-O", func(i *report.Image) { i.BuildID, i.Type, i.UUID = "", "macho", strings.Repeat("ab", 16) }, "file is ELF"},
		{"file gone", func(i *report.Image) { i.Path += ".gone" }, "no such file"},
		{"relative path", func(i *report.Image) { i.Path = filepath.Base(i.Path) }, "not absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := replaceImage(po.Images, exe, tc.change)
			var path string
			for _, i := range imgs {
				if i.IsMain {
					path = i.Path
				}
			}
			log, buf := logBuffer()
			s := New(imgs, Options{Logger: log})
			defer s.Close()
			for _, pc := range pcs {
				assert.Equal(t, report.Frame{PC: pc, Native: true, Image: path}, s.Frame(pc))
			}
			assert.Contains(t, buf.String(), tc.log)
		})
	}
}

func TestStrippedExecutable(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(t, exe)
	sexe := stripped(t, exe)
	// strip keeps the build-id: the stripped file is still the image.
	id, err := BuildID(sexe)
	require.NoError(t, err)
	require.Equal(t, imageOf(t, po, exe).BuildID, hex.EncodeToString(id))

	s := New(replaceImage(po.Images, exe, func(i *report.Image) { i.Path = sexe }), Options{})
	defer s.Close()
	// No symbol for the C function, and no error.
	assert.Equal(t, report.Frame{PC: po.C, Native: true, Image: sexe}, s.Frame(po.C))
	// Go code stays symbolized: the runtime needs the pc-line table, so
	// strip keeps it, and crosscall2 in .dynsym locates Go text.
	checkGo(t, s, po, sexe)
}

func TestSentinel(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(t, exe)
	main := imageOf(t, po, exe)
	require.NotEqual(t, main.ImageVMAddr, main.Base, "PIE should be relocated")
	noBase := replaceImage(po.Images, exe, func(i *report.Image) { i.Base, i.Size = 0, 0 })

	t.Run("locates main", func(t *testing.T) {
		s := New(noBase, Options{Sentinel: Sentinel{Symbol: "main.sentinel", Addr: po.Sentinel}})
		defer s.Close()
		checkGo(t, s, po, exe)
		checkC(t, s, po, exe)
	})
	t.Run("no sentinel", func(t *testing.T) {
		log, buf := logBuffer()
		s := New(noBase, Options{Logger: log})
		defer s.Close()
		assert.Equal(t, report.Frame{PC: po.Go[0].PC, Native: true}, s.Frame(po.Go[0].PC))
		assert.Contains(t, buf.String(), "no sentinel")
	})
	t.Run("disagrees with base", func(t *testing.T) {
		log, buf := logBuffer()
		s := New(po.Images, Options{Logger: log, Sentinel: Sentinel{Symbol: "main.sentinel", Addr: po.Sentinel + 0x1000}})
		defer s.Close()
		assert.Equal(t, report.Frame{PC: po.C, Native: true, Image: exe}, s.Frame(po.C))
		assert.Contains(t, buf.String(), "sentinel main.sentinel")
	})
	t.Run("agrees with base", func(t *testing.T) {
		s := New(po.Images, Options{Sentinel: Sentinel{Symbol: "main.sentinel", Addr: po.Sentinel}})
		defer s.Close()
		checkGo(t, s, po, exe)
	})
	t.Run("not page aligned", func(t *testing.T) {
		s := New(noBase, Options{Sentinel: Sentinel{Symbol: "main.sentinel", Addr: po.Sentinel + 8}})
		defer s.Close()
		assert.Empty(t, s.Frame(po.Go[0].PC).Function)
	})
	t.Run("non-PIE needs none", func(t *testing.T) {
		exe := goProg(t, "go-exe", false, "", "")
		po := runProg(t, exe)
		s := New(replaceImage(po.Images, exe, func(i *report.Image) { i.Base, i.Size = 0, 0 }), Options{})
		defer s.Close()
		checkGo(t, s, po, exe)
	})
}

func TestFrames(t *testing.T) {
	exe := goProg(t, "cgo-exe", true, "", "")
	po := runProg(t, exe)
	s := New(po.Images, Options{})
	defer s.Close()
	// A return address one past the end of goFunc's body would be the next
	// function's entry if looked up as is: Frames looks up pc-1.
	next := po.Sentinel
	frs := s.Frames([]uint64{po.C, next})
	assert.Equal(t, "c_crash_here", frs[0].Function)
	assert.Equal(t, next, frs[1].PC)
	assert.NotEqual(t, "main.sentinel", frs[1].Function, "return address must not be taken for the next function")
	assert.Equal(t, "main.sentinel", s.Frame(next).Function)

	// Addresses in no image.
	assert.Equal(t, report.Frame{PC: 0x10, Native: true}, s.Frame(0x10))
	assert.Equal(t, report.Frame{PC: 1<<64 - 1, Native: true}, s.Frame(1<<64-1))
	require.NoError(t, s.Close())
	assert.Equal(t, report.Frame{PC: po.C, Native: true}, s.Frame(po.C), "after Close")
}

func TestCurrentImages(t *testing.T) {
	imgs, err := CurrentImages()
	require.NoError(t, err)
	require.NotEmpty(t, imgs)
	exe, err := os.Executable()
	require.NoError(t, err)
	var mains []report.Image
	for i, img := range imgs {
		assert.Equal(t, "elf", img.Type)
		assert.True(t, filepath.IsAbs(img.Path), img.Path)
		assert.NotZero(t, img.Size)
		if i > 0 {
			assert.GreaterOrEqual(t, img.Base, imgs[i-1].Base+imgs[i-1].Size, "sorted, not overlapping")
		}
		if img.IsMain {
			mains = append(mains, img)
		}
		if img.BuildID != "" {
			id, err := BuildID(img.Path)
			if assert.NoError(t, err) {
				assert.Equal(t, hex.EncodeToString(id), img.BuildID, img.Path)
			}
		}
	}
	require.Len(t, mains, 1)
	assert.Equal(t, exe, mains[0].Path)

	// The test binary symbolizes its own functions.
	s := New(imgs, Options{})
	defer s.Close()
	pc, file, line, ok := runtime.Caller(0)
	require.True(t, ok)
	fr := s.Frame(uint64(pc))
	assert.Equal(t, "github.com/crashguard/crashguard-go/internal/symbolize.TestCurrentImages", fr.Function)
	assert.Equal(t, "github.com/crashguard/crashguard-go/internal/symbolize", fr.Package)
	assert.Equal(t, file, fr.File)
	assert.Equal(t, line, fr.Line)
}

func TestParseMapsLine(t *testing.T) {
	m, ok := parseMapsLine("7f1c2a000000-7f1c2a022000 r-xp 00001000 fd:01 1234567                    /opt/my app/lib x.so (deleted)")
	require.True(t, ok)
	assert.Equal(t, mapping{start: 0x7f1c2a000000, end: 0x7f1c2a022000, perms: "r-xp", off: 0x1000, dev: "fd:01", ino: 1234567, path: "/opt/my app/lib x.so (deleted)"}, m)
	m, ok = parseMapsLine("7ffd1b3f2000-7ffd1b3f4000 r-xp 00000000 00:00 0                          [vdso]")
	require.True(t, ok)
	assert.Equal(t, "[vdso]", m.path)
	m, ok = parseMapsLine("7ffd1b3f2000-7ffd1b3f4000 rw-p 00000000 00:00 0")
	require.True(t, ok)
	assert.Empty(t, m.path)
	_, ok = parseMapsLine("garbage")
	assert.False(t, ok)
}

// BenchmarkFrame measures one lookup once the image files are open and
// their tables read: Go pcs (pc-line table) and C pcs (symbol table and
// DWARF line table).
func BenchmarkFrame(b *testing.B) {
	exe := goProg(b, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(b, exe)
	s := New(po.Images, Options{})
	defer s.Close()
	for _, bc := range []struct {
		name string
		pc   uint64
		want string
	}{
		{"go", po.Go[len(po.Go)-1].PC, "main.goFunc"},
		{"c", po.C + 8, "c_crash_here"},
		{"unknown", 0x10, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			require.Equal(b, bc.want, s.Frame(bc.pc).Function) // warm up
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Frame(bc.pc)
			}
		})
	}
}

// BenchmarkFirstFrame measures what the first lookups in a report cost:
// opening the executable, checking its build-id, reading its symbol and
// pc-line tables (one Go pc), then indexing its DWARF (one C pc).
func BenchmarkFirstFrame(b *testing.B) {
	exe := goProg(b, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(b, exe)
	b.ReportAllocs()
	for b.Loop() {
		s := New(po.Images, Options{})
		if s.Frame(po.Go[0].PC).Function == "" || s.Frame(po.C).Function == "" {
			b.Fatal("not symbolized")
		}
		s.Close()
	}
}

// TestGoTextUnknown: a stripped, externally linked binary whose Go text
// start cannot be proven gets no Go symbols, because the obvious guess
// (the start of .text) is wrong there: the host linker put C start-up
// code first.
func TestGoTextUnknown(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(t, exe)
	main := imageOf(t, po, exe)
	sexe := stripped(t, exe)
	f, _, err := openRegular(sexe)
	require.NoError(t, err)
	id, err := hex.DecodeString(main.BuildID)
	require.NoError(t, err)
	o, err := openELF(f, id, []string{})
	require.NoError(t, err)
	o.closers = append(o.closers, f)
	defer o.close()
	require.NotNil(t, o.gopcln)
	require.False(t, o.internalLink)

	// The wrong guess names another function.
	addr := po.Go[0].PC - (main.Base - o.vmaddr)
	guess := *o.gopcln
	guess.text, guess.known = o.textStart, true
	fn, _, _ := guess.lookup(addr)
	require.NotNil(t, fn)
	require.NotEqual(t, "main.goFunc", fn.Name)

	// Without the anchors nothing proves where Go text starts.
	o.anchors = map[string]uint64{}
	require.Error(t, o.gopcln.resolveText(o, "", 0))
	fn, _, _ = o.gopcln.lookup(addr)
	require.Nil(t, fn)
	// With the sentinel it is proven again.
	sent := po.Sentinel - (main.Base - o.vmaddr)
	require.NoError(t, o.gopcln.resolveText(o, "main.sentinel", sent))
	fn, _, _ = o.gopcln.lookup(addr)
	require.NotNil(t, fn)
	assert.Equal(t, "main.goFunc", fn.Name)
}
