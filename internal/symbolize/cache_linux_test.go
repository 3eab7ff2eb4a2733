//go:build linux

package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func cacheHits() int {
	imageCache.mu.Lock()
	defer imageCache.mu.Unlock()
	return imageCache.hits
}

// TestImageCache: a second Symbolizer of the same image is served from the
// process-wide cache with the same frames, and only while the recorded
// path still names the very file that was read: a different binary put at
// that path (renamed over it, or written into it) is read from disk and
// checked like any other, so the recorded build-id no longer matches.
func TestImageCache(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	other := goProg(t, "cgo-exe", true, "", "")
	po := runProg(t, exe)

	dir := t.TempDir()
	path := filepath.Join(dir, "prog")
	copyFile(t, exe, path)
	imgs := replaceImage(po.Images, exe, func(i *report.Image) { i.Path = path })
	pcs := []uint64{po.Go[0].PC, po.C, po.C + 4}

	frames := func(log bool) ([]report.Frame, string) {
		l, buf := logBuffer()
		s := New(imgs, Options{Logger: l})
		defer s.Close()
		var out []report.Frame
		for _, pc := range pcs {
			out = append(out, s.Frame(pc))
		}
		return out, buf.String()
	}

	imageCache.reset()
	cold, _ := frames(false)
	require.Equal(t, "main.goFunc", cold[0].Function)
	require.Equal(t, "c_crash_here", cold[1].Function)
	require.NotEmpty(t, cold[1].File)
	require.NotZero(t, cold[2].Line)
	require.Zero(t, cacheHits())

	warm, _ := frames(false)
	assert.Equal(t, cold, warm)
	assert.Positive(t, cacheHits(), "served from the cache")

	unsymbolized := make([]report.Frame, len(pcs))
	for i, pc := range pcs {
		unsymbolized[i] = report.Frame{PC: pc, Native: true, Image: path}
	}
	for _, tc := range []struct {
		name    string
		replace func()
	}{
		{"renamed over", func() {
			tmp := filepath.Join(dir, "prog.new")
			copyFile(t, other, tmp)
			require.NoError(t, os.Rename(tmp, path))
		}},
		{"written into", func() {
			data, err := os.ReadFile(other)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, data, 0o755))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyFile(t, exe, path)
			warm, _ := frames(false)
			require.Equal(t, cold, warm)
			hits := cacheHits()
			tc.replace()
			got, log := frames(true)
			assert.Equal(t, unsymbolized, got, "a different binary at the path is not served from the cache")
			assert.Contains(t, log, "not the loaded image")
			assert.Equal(t, hits, cacheHits())
		})
	}

	// Back to the recorded binary: read and cached again.
	copyFile(t, exe, path)
	again, _ := frames(false)
	assert.Equal(t, cold, again)

	// The other binary at the path, recorded as itself: read from disk (its
	// build-id is another key), symbolized as at its own path.
	po2 := runProg(t, other)
	copyFile(t, other, path)
	imgs2 := replaceImage(po2.Images, other, func(i *report.Image) { i.Path = path })
	s := New(imgs2, Options{})
	defer s.Close()
	own := New(po2.Images, Options{})
	defer own.Close()
	for _, pc := range []uint64{po2.Go[0].PC, po2.C} {
		want := own.Frame(pc)
		require.NotEmpty(t, want.Function)
		want.Image = path
		assert.Equal(t, want, s.Frame(pc))
	}
}

// TestImageCacheConcurrent: Symbolizers of one image in several goroutines
// share its cache entry, its line index and its Go table (run with -race).
func TestImageCacheConcurrent(t *testing.T) {
	exe := goProg(t, "cgo-pie", true, "", "", "-buildmode=pie")
	po := runProg(t, exe)
	imageCache.reset()
	want := func() []report.Frame {
		s := New(po.Images, Options{})
		defer s.Close()
		return []report.Frame{s.Frame(po.C), s.Frame(po.Go[0].PC), s.Frame(po.Sentinel)}
	}
	imageCache.reset()
	results := make(chan []report.Frame, 8)
	for range 8 {
		go func() { results <- want() }()
	}
	first := <-results
	require.Equal(t, "c_crash_here", first[0].Function)
	require.Equal(t, "main.goFunc", first[1].Function)
	for range 7 {
		assert.Equal(t, first, <-results)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	tmp := to + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o755))
	require.NoError(t, os.Rename(tmp, to))
}

// TestELFLinesAsDWARF: the index of .debug_line alone answers every native
// function's pcs exactly as the whole debug info does (file, line, found),
// for a cgo executable and a C library, and for libc's separate debug file
// when the system has one (libc6-dbg).
func TestELFLinesAsDWARF(t *testing.T) {
	files := []string{goProg(t, "cgo-pie", true, "", "", "-buildmode=pie"), cLib(t)}
	if id, err := BuildID("/lib/x86_64-linux-gnu/libc.so.6"); err == nil {
		if df, c := debugFile(id, []string{"/usr/lib/debug"}); df != nil {
			c.Close()
			h := hex.EncodeToString(id)
			files = append(files, filepath.Join("/usr/lib/debug/.build-id", h[:2], h[2:]+".debug"))
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.Open(file)
			require.NoError(t, err)
			defer raw.Close()
			f, err := elf.NewFile(raw)
			require.NoError(t, err)
			for _, s := range f.Sections {
				if s.Flags&elf.SHF_COMPRESSED != 0 {
					want, err := s.Data()
					require.NoError(t, err)
					got, err := inflateSection(f, raw, s)
					require.NoError(t, err, s.Name)
					require.True(t, bytes.Equal(want, got), "%s inflated as debug/elf does", s.Name)
				}
			}
			d, err := f.DWARF()
			require.NoError(t, err)
			full, err := newDWARFLines(d)
			require.NoError(t, err)
			syms, err := f.Symbols()
			require.NoError(t, err)
			var goText [2]uint64
			for _, s := range syms {
				switch s.Name {
				case "runtime.text":
					goText[0] = s.Value
				case "runtime.etext":
					goText[1] = s.Value
				}
			}
			counts := map[string]int{}
			for name, skip := range map[string][2]uint64{"all": {}, "Go text skipped": goText} {
				quick, err := newELFLines(f, raw, skip)
				require.NoError(t, err)
				for _, s := range syms {
					if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 || strings.Contains(s.Name, ".") {
						continue // Go functions are the pc-line table's
					}
					for _, off := range []uint64{0, 1, s.Size / 2, s.Size - 1} {
						if off >= max(s.Size, 1) {
							continue
						}
						pc := s.Value + off
						qf, ql, qok, rel := quick.lookup(pc)
						ff, fl, fok, _ := full.lookup(pc)
						if rel {
							continue // answered by the whole debug info
						}
						require.Equal(t, []any{ff, fl, fok}, []any{qf, ql, qok}, "%s: %s+%d (%#x)", name, s.Name, off, pc)
						counts[name]++
						if pc < goText[0] || pc >= goText[1] {
							counts[name+", outside Go text"]++
						}
					}
				}
			}
			compared := counts["all"]
			// Go assembly (cmpbody, memeqbody) in Go text goes to the whole
			// debug info when skipped; every pc outside is still answered.
			assert.Equal(t, counts["all, outside Go text"], counts["Go text skipped"], "skipping Go's line programs loses no native pc")
			t.Logf("%d pcs compared", compared)
			require.Positive(t, compared)
		})
	}
}

// TestGoTextSizeFromHeader: the extent of Go text read from the pc-line
// table's header is where debug/gosym's last function ends, so that a pc
// outside it is told native without parsing the table.
func TestGoTextSizeFromHeader(t *testing.T) {
	for _, exe := range []string{
		goProg(t, "cgo-pie", true, "", "", "-buildmode=pie"),
		goProg(t, "cgo-exe", true, "", ""),
		goProg(t, "go-exe", false, "", ""),
	} {
		f, err := elf.Open(exe)
		require.NoError(t, err)
		data, err := f.Section(".gopclntab").Data()
		require.NoError(t, err)
		g, err := newGoTable(data, f.ByteOrder)
		require.NoError(t, err)
		require.True(t, g.relative)
		tab := g.table()
		require.NotNil(t, tab)
		assert.Equal(t, tab.Funcs[len(tab.Funcs)-1].End, g.size, exe)
		f.Close()
	}
}

// TestELFSymtabAsDebugELF: .symtab read directly gives the very symbols and
// anchors that debug/elf's Symbols does.
func TestELFSymtabAsDebugELF(t *testing.T) {
	files := []string{
		goProg(t, "cgo-pie", true, "", "", "-buildmode=pie"),
		goProg(t, "cgo-exe", true, "", ""),
		goProg(t, "go-exe", false, "", ""),
		cLib(t),
	}
	if id, err := BuildID("/lib/x86_64-linux-gnu/libc.so.6"); err == nil {
		h := hex.EncodeToString(id)
		if p := filepath.Join("/usr/lib/debug/.build-id", h[:2], h[2:]+".debug"); fileExists(p) {
			files = append(files, p)
		}
	}
	for _, file := range files {
		f, err := elf.Open(file)
		require.NoError(t, err)
		raw, anchors, ok := elfSymtab(f)
		require.True(t, ok, file)
		syms, err := f.Symbols()
		require.NoError(t, err)
		wantRaw, wantAnchors := functionSymbols(f, syms)
		assert.Equal(t, wantRaw, raw, file)
		assert.Equal(t, wantAnchors, anchors, file)
		require.NotEmpty(t, raw)
		f.Close()
	}
	// A stripped file has no .symtab: debug/elf's .dynsym path serves it.
	f, err := elf.Open(stripped(t, cLib(t)))
	require.NoError(t, err)
	defer f.Close()
	_, _, ok := elfSymtab(f)
	assert.False(t, ok)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
