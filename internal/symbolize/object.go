package symbolize

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
)

// maxFileSize caps the size of an image file the symbolizer reads. Real
// executables and libraries are far smaller; a bigger file is more likely
// a mistake (or a hostile record) than an image, and reading it would cost
// the collector memory it may not have.
const maxFileSize = 1 << 30

// maxDebugSize caps the total (uncompressed) size of the DWARF sections
// loaded for line numbers of native code. Above it C frames keep their
// function name and go without file and line.
const maxDebugSize = 256 << 20

// object is an image file on disk that has been checked to be the image
// that was loaded (same build-id / UUID), reduced to what symbolization
// needs. Addresses in an object are file virtual addresses.
type object struct {
	// vmaddr is where the image starts in the file's address space: the
	// first PT_LOAD's p_vaddr (page aligned down) for ELF, __TEXT's vmaddr
	// for Mach-O. The runtime Base of the image corresponds to it, so
	// bias = Base - vmaddr.
	vmaddr uint64
	// span is the size of the image's address range from vmaddr to the
	// end of its last segment.
	span uint64
	// fixed is true for images that cannot be relocated (ELF ET_EXEC,
	// Mach-O without MH_PIE): their bias is 0 whatever was recorded.
	fixed bool
	// syms are the function symbols (.symtab, else .dynsym; Mach-O nlist).
	syms symtab
	// anchors are the symbol addresses of runtime.text and goAnchors.
	anchors map[string]uint64
	// text is the range of the main text section (.text / __TEXT,__text),
	// used to check a Go text start before trusting it.
	textStart, textEnd uint64
	// internalLink is true when the layout says the Go linker linked the
	// image itself, so Go text starts exactly at the text section.
	internalLink bool
	// gopcln is the Go pc-line table, nil for non-Go images.
	gopcln *goTable
	// lines answers file and line for native code, built on first use
	// and shared by every copy of a cached object; nil when the image has
	// no line tables.
	lines *lineSource

	// closers are the open files the object reads from lazily: the image
	// and, if one was found, its separate debug file. A copy handed out by
	// the image cache has none: entry owns them.
	closers []io.Closer
	entry   *cacheEntry
}

// lineSource builds a line index on first use and serializes lookups (a
// dwarf.LineReader is stateful). quick is the cheap index (newELFLines),
// full the one of the whole debug info, built only when quick cannot be
// built or cannot answer.
type lineSource struct {
	mu         sync.Mutex
	quick      func() (*dwarfLines, error)
	full       func() (*dwarfLines, error)
	quickLines *dwarfLines
	fullLines  *dwarfLines
}

func newLineSource(quick, full func() (*dwarfLines, error)) *lineSource {
	return &lineSource{quick: quick, full: full}
}

func (l *lineSource) lookup(addr uint64) (string, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.quick != nil {
		l.quickLines, _ = l.quick()
		l.quick = nil
	}
	if l.quickLines != nil {
		file, line, ok, relative := l.quickLines.lookup(addr)
		if !relative {
			return file, line, ok
		}
	}
	if l.full != nil {
		l.fullLines, _ = l.full()
		l.full = nil
	}
	if l.fullLines == nil {
		return "", 0, false
	}
	file, line, ok, _ := l.fullLines.lookup(addr)
	return file, line, ok
}

func (o *object) close() error {
	if o == nil {
		return nil
	}
	if e := o.entry; e != nil {
		o.entry = nil
		return imageCache.release(e)
	}
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c.Close())
	}
	o.closers = nil
	return errors.Join(errs...)
}

// symbolAddr returns the file address of the function called name, from
// the symbol table or, for Go functions, the pc-line table.
func (o *object) symbolAddr(name string) (uint64, bool) {
	if a, ok := o.syms.byName(name); ok {
		return a, true
	}
	if o.gopcln != nil {
		return o.gopcln.funcAddr(name)
	}
	return 0, false
}

// fileLine returns the DWARF file and line of addr, for native code. The
// debug info is read on first use and kept; an image without it (or with
// too much of it) answers nothing.
func (o *object) fileLine(addr uint64) (string, int, bool) {
	if o.lines == nil {
		return "", 0, false
	}
	return o.lines.lookup(addr)
}

// openRegular opens path for reading if it is a regular file no bigger
// than maxFileSize. The path comes from our own crash record, but it is
// still a name in the file system: a symlink or a device there must not
// make the collector read something else or block, so the file is
// Lstat'ed first and the opened file must be that same file.
func openRegular(path string) (*os.File, int64, error) {
	if !filepath.IsAbs(path) {
		// "[vdso]", "" and relative names cannot be the loaded image.
		return nil, 0, fmt.Errorf("image path %q is not absolute", path)
	}
	li, err := os.Lstat(path)
	if err != nil {
		return nil, 0, err
	}
	if !li.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file (%v)", path, li.Mode().Type())
	}
	if li.Size() > maxFileSize {
		return nil, 0, fmt.Errorf("%s: %d bytes, more than the %d-byte cap", path, li.Size(), maxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil || !os.SameFile(li, fi) || !fi.Mode().IsRegular() || fi.Size() > maxFileSize {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s: changed while being opened", path)
		}
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// errMismatch says the file on disk is not the image that was loaded.
var errMismatch = errors.New("file on disk is not the loaded image")

// goMarkers are Go linker symbols that mark the bounds of Go text. They
// have size 0 and are not functions: bounded only by the next symbol,
// runtime.etext would claim whatever code follows Go text.
var goMarkers = map[string]bool{"runtime.text": true, "runtime.etext": true}

// rawSym is a function symbol as read from a symbol table.
type rawSym struct {
	name  string
	addr  uint64
	size  uint64 // 0 when unknown (Mach-O, hand-written assembly)
	limit uint64 // end of the section holding the symbol
	rank  int    // higher wins among symbols at the same address
}

// sym is a function with its extent.
type sym struct {
	name      string
	addr, end uint64
}

// symtab is a sorted function symbol table, one symbol per address.
type symtab []sym

// newSymtab sorts raw symbols and gives each an end: addr+size when the
// size is known, else the next symbol's address (or the section's end).
// Of several symbols at one address the best ranked is kept, so an alias
// or a size-less label never hides a sized function.
func newSymtab(raw []rawSym) symtab {
	// A stable sort by address and rank, done as an unstable sort of
	// indices with the index as the last key (several times faster on the
	// tens of thousands of symbols of a Go binary).
	perm := make([]int32, len(raw))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(i, j int32) int {
		a, b := &raw[i], &raw[j]
		if c := cmp.Compare(a.addr, b.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(b.rank, a.rank); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	sorted := make([]rawSym, len(raw))
	for k, i := range perm {
		sorted[k] = raw[i]
	}
	raw = sorted
	t := make(symtab, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		r := raw[i]
		if i > 0 && raw[i-1].addr == r.addr {
			continue
		}
		end := r.addr + r.size
		if r.size == 0 {
			end = r.limit
			for j := i + 1; j < len(raw); j++ {
				if raw[j].addr > r.addr {
					end = min(end, raw[j].addr)
					break
				}
			}
		}
		if end <= r.addr {
			continue
		}
		t = append(t, sym{name: r.name, addr: r.addr, end: end})
	}
	return t
}

// lookup returns the symbol with the greatest address <= addr, if addr is
// inside it.
func (t symtab) lookup(addr uint64) (sym, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].addr > addr }) - 1
	if i < 0 || addr >= t[i].end {
		return sym{}, false
	}
	return t[i], true
}

// byName returns the address of the symbol called name. It is a linear
// scan: it runs once per image, for the sentinel and Go text anchors.
func (t symtab) byName(name string) (uint64, bool) {
	for _, s := range t {
		if s.name == name {
			return s.addr, true
		}
	}
	return 0, false
}
