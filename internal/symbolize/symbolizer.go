// Package symbolize turns raw addresses from a dead process into function,
// file and line, after the fact, from the image files on disk.
//
// The native fault records hold raw pcs and the images (executable and
// shared libraries) that were loaded in the crashed process. A Symbolizer
// maps a pc to its image, opens that image's file, checks the file is the
// image that was loaded, and looks the pc up: in the Go pc-line table for
// Go code (function, file, line), else in the ELF or Mach-O symbol table
// (function) and DWARF line table (file, line) for native code.
//
// # What an image's Base is
//
// report.Image.Base is the runtime address of the image's first byte, i.e.
// where the file's header is mapped:
//
//   - ELF: the start of the mapping of file offset 0 in /proc/<pid>/maps;
//     from dl_iterate_phdr, dlpi_addr + (p_vaddr - p_offset) of the first
//     PT_LOAD. For shared libraries and PIE executables linked by a host
//     linker the first PT_LOAD has p_vaddr 0, so Base is dlpi_addr, the load
//     bias. It is not dlpi_addr in general: a non-PIE executable (Go's
//     default on linux/amd64) has dlpi_addr 0 and Base 0x400000, and a PIE
//     executable linked by the Go linker has p_vaddr 0x400000 too.
//   - Mach-O: the address of the mach_header, which is the start of __TEXT.
//
// This is what Sentry calls image_addr, and what CurrentImages reports.
// The symbolizer reads the matching file address from the file itself
// (report.Image.ImageVMAddr is informational here), so
// bias = Base - (first PT_LOAD p_vaddr - p_offset) for ELF and
// slide = Base - __TEXT.vmaddr for Mach-O, and a pc is at file address
// pc - bias.
//
// # Never a wrong symbol
//
// A file is used only when it is provably the image that was loaded: its
// NT_GNU_BUILD_ID (ELF) or LC_UUID (Mach-O) equals the one recorded. An
// image recorded without an id is not symbolized at all. A Go pc-line
// table is used only once runtime.text is known exactly. Whatever cannot
// be proven leaves the frame with its PC and Image only; the reasons go to
// the debug log.
//
// # Cost
//
// What opening an image yields is kept for the life of the process, keyed
// by the recorded build-id (UUID) and path, and served only while the path
// still names the same unchanged file (cache.go): the reports of a pass,
// and later passes, read an image once, and a different binary put at the
// path is read and checked afresh. Symbols come from the symbol table
// without an allocation per symbol; the Go pc-line table is parsed only
// when a pc falls in Go text. File and line of native code come from
// .debug_line alone, indexed by its line sequences on first use (the
// debug info, locations and ranges are not read, and in a host-linked Go
// binary the Go linker's line programs are skipped); a zlib-compressed
// .debug_line is inflated by inflateZlib and checked against its Adler-32.
// Only a lookup the line table cannot answer alone (a relative file name
// in a DWARF 2-4 table, a pc in Go text) reads the whole debug info, as
// before. A C fault's report costs about 25 ms of CPU cold (50 ms where
// libc's separate debug file is installed) and well under 1 ms warm.
//
// # Limits
//
// Inlined Go calls are not expanded (debug/gosym exposes no inline tree):
// a pc in code inlined into f is reported as f, with the file and line of
// the inlined source. Only ELF and Mach-O images are read; PE (Windows)
// images stay unsymbolized. A stripped library's separate debug file is
// found by build-id only (not by .gnu_debuglink).
package symbolize

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/crashguard/crashguard-go/internal/report"
)

// pageMask: a load bias or slide is always a multiple of the page size
// (4 KiB at least); one that is not comes from a wrong sentinel.
const pageMask = 0xfff

// Options configures a Symbolizer. The zero value is valid.
type Options struct {
	// Sentinel locates the main executable when its Base was not recorded
	// (the Go side knows a function's runtime address even without the
	// native layer), and cross-checks the Base when it was.
	Sentinel Sentinel
	// Logger receives debug messages saying why an image or a pc was not
	// symbolized. nil discards them.
	Logger *slog.Logger
	// DebugDirs are searched for the separate debug file of a stripped
	// ELF image, by build-id: <dir>/.build-id/ab/cdef….debug, the layout
	// of distributions' debug packages (libc6-dbg, glibc-debuginfo) and of
	// objcopy --only-keep-debug. Its symbols and lines are used when the
	// image has none. nil means /usr/lib/debug; empty means none.
	DebugDirs []string
}

// Sentinel is the runtime address of a known function in the main
// executable, recorded by the crashed process.
type Sentinel struct {
	// Symbol is the function's name as the symbol and pc-line tables spell
	// it, e.g. "github.com/crashguard/crashguard-go/crashguard.sentinel".
	Symbol string
	// Addr is its runtime entry address, e.g. reflect.ValueOf(fn).Pointer().
	Addr uint64
}

func (s Sentinel) valid() bool { return s.Symbol != "" && s.Addr != 0 }

// Symbolizer symbolizes pcs of one crashed process. It opens an image file
// the first time a pc falls in that image and keeps it until Close. It is
// safe for concurrent use.
type Symbolizer struct {
	mu        sync.Mutex
	log       *slog.Logger
	sentinel  Sentinel
	debugDirs []string
	images    []*image // with a known Base, sorted by it
	pending   []*image // main executables whose Base must be found first
}

// image is one recorded image and, once opened, its checked file.
type image struct {
	rec    report.Image
	format string // "elf" or "macho"
	id     []byte // the recorded build-id / UUID
	base   uint64
	size   uint64 // recorded size, else the span of the file's segments
	bias   uint64
	opened bool
	obj    *object // nil when the image cannot be symbolized
}

// New returns a Symbolizer for a process that had images loaded. It opens
// no file: that happens on demand.
func New(images []report.Image, opts Options) *Symbolizer {
	s := &Symbolizer{log: opts.Logger, sentinel: opts.Sentinel, debugDirs: opts.DebugDirs}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.debugDirs == nil {
		s.debugDirs = []string{"/usr/lib/debug"}
	}
	for _, rec := range images {
		img := &image{rec: rec, base: rec.Base, size: rec.Size}
		img.format, img.id = recordedID(rec)
		switch {
		case rec.Base != 0:
			s.images = append(s.images, img)
		case rec.IsMain:
			s.pending = append(s.pending, img)
		default:
			// Only the main executable can be located without its Base.
			s.log.Debug("symbolize: image not symbolized", "path", rec.Path, "reason", "base not recorded")
		}
	}
	s.sortImages()
	return s
}

// recordedID returns the image's format and the identity it was recorded
// with: a hex build-id for ELF, a UUID (hex, hyphens allowed) for Mach-O.
// A record with neither, or with one that is not hex, has no id.
func recordedID(rec report.Image) (string, []byte) {
	format := rec.Type
	var s string
	switch {
	case format == "elf" || format == "" && rec.BuildID != "":
		format, s = "elf", rec.BuildID
	case format == "macho" || format == "" && rec.UUID != "":
		format, s = "macho", strings.ReplaceAll(rec.UUID, "-", "")
	}
	id, err := hex.DecodeString(s)
	if err != nil || len(id) == 0 || format == "macho" && len(id) != 16 {
		return format, nil
	}
	return format, id
}

func (s *Symbolizer) sortImages() {
	sort.SliceStable(s.images, func(i, j int) bool { return s.images[i].base < s.images[j].base })
}

// Frame symbolizes pc, the address of an instruction being executed: the
// faulting pc, or the innermost frame of a stack. It fills Function, File,
// Line and Offset (pc - function entry) when known, Package for Go
// functions, Image with the path of the image holding pc, and always PC
// and Native (these are frames of the native layer's stack walk).
func (s *Symbolizer) Frame(pc uint64) report.Frame {
	return s.frame(pc, false)
}

// Frames symbolizes a stack walked innermost first: stack[0] is the pc of
// the innermost frame, every other entry a return address. A return
// address is looked up at address-1, inside the call instruction, so that
// a call ending a function (to a function that does not return) is not
// taken for the next function and the line is the call's. PC keeps the
// address as recorded. (A frame interrupted by a signal in the middle of a
// stack holds an exact pc, not a return address: use Frame for it.)
func (s *Symbolizer) Frames(stack []uint64) []report.Frame {
	out := make([]report.Frame, len(stack))
	for i, pc := range stack {
		out[i] = s.frame(pc, i > 0)
	}
	return out
}

func (s *Symbolizer) frame(pc uint64, ret bool) report.Frame {
	fr := report.Frame{PC: pc, Native: true}
	look := pc
	if ret && pc > 0 {
		look = pc - 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.find(look)
	if img == nil {
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("symbolize: pc in no recorded image", "pc", hexAddr(pc))
		}
		return fr
	}
	fr.Image = img.rec.Path
	o := img.obj
	if o == nil {
		return fr
	}
	addr := look - img.bias
	if addr < o.vmaddr || addr-o.vmaddr >= o.span {
		return fr
	}
	sy, hasSym := o.syms.lookup(addr)
	if fn, file, line := o.gopcln.lookup(addr); fn != nil {
		entry := o.gopcln.entry(fn)
		// A symbol that starts elsewhere is native code the Go table does
		// not list (C linked in by the Go linker sits among Go functions).
		if !hasSym || sy.addr == entry {
			fr.Function, fr.Package = fn.Name, fn.PackageName()
			fr.File, fr.Line = file, line
			fr.Offset = pc - img.bias - entry
			return fr
		}
	}
	if hasSym {
		fr.Function = sy.name
		fr.Offset = pc - img.bias - sy.addr
		if file, line, ok := o.fileLine(addr); ok {
			fr.File, fr.Line = file, line
		}
	}
	return fr
}

// find returns the image holding pc, opened, or nil. Images do not
// overlap, so only the one with the greatest Base <= pc can hold it; if
// its size was not recorded, its file tells.
func (s *Symbolizer) find(pc uint64) *image {
	if len(s.pending) > 0 {
		s.resolvePending()
	}
	i := sort.Search(len(s.images), func(i int) bool { return s.images[i].base > pc }) - 1
	if i < 0 {
		return nil
	}
	img := s.images[i]
	if img.size != 0 && pc-img.base >= img.size {
		return nil
	}
	s.open(img)
	if img.size == 0 || pc-img.base >= img.size {
		return nil
	}
	return img
}

// resolvePending finds the Base of main executables recorded without one:
// a non-relocatable executable is where its file says; otherwise the
// sentinel's runtime address minus its file address is the bias.
func (s *Symbolizer) resolvePending() {
	for _, img := range s.pending {
		img.opened = true
		o, err := s.load(img)
		if err == nil {
			var bias uint64
			if bias, err = s.sentinelBias(o); err == nil {
				img.base = o.vmaddr + bias
				err = s.place(img, o)
			}
		}
		if err != nil {
			s.log.Debug("symbolize: main executable not symbolized", "path", img.rec.Path, "reason", err)
			o.close()
			continue
		}
		img.obj = o
		s.images = append(s.images, img)
		s.log.Debug("symbolize: main executable located", "path", img.rec.Path, "base", hexAddr(img.base))
	}
	s.pending = nil
	s.sortImages()
}

func (s *Symbolizer) sentinelBias(o *object) (uint64, error) {
	if o.fixed {
		return 0, nil
	}
	if !s.sentinel.valid() {
		return 0, errors.New("base not recorded and no sentinel")
	}
	if o.gopcln != nil {
		// Without the bias the sentinel cannot help find Go text.
		_ = o.gopcln.resolveText(o, "", 0)
	}
	fileAddr, ok := o.symbolAddr(s.sentinel.Symbol)
	if !ok {
		return 0, fmt.Errorf("sentinel %q not found in the file's symbol table or located Go pc-line table", s.sentinel.Symbol)
	}
	bias := s.sentinel.Addr - fileAddr
	if bias&pageMask != 0 {
		return 0, fmt.Errorf("sentinel gives bias %#x, not page aligned", bias)
	}
	return bias, nil
}

// open opens img's file once; on failure img.obj stays nil and the reason
// is logged once.
func (s *Symbolizer) open(img *image) {
	if img.opened {
		return
	}
	img.opened = true
	o, err := s.load(img)
	if err == nil {
		err = s.place(img, o)
	}
	if err != nil {
		s.log.Debug("symbolize: image not symbolized", "path", img.rec.Path, "reason", err)
		o.close()
		return
	}
	img.obj = o
}

// place computes img's bias from its recorded Base and checks it against
// what the file and the sentinel say.
func (s *Symbolizer) place(img *image, o *object) error {
	if img.base < o.vmaddr {
		return fmt.Errorf("base %#x is below the image's first address %#x", img.base, o.vmaddr)
	}
	img.bias = img.base - o.vmaddr
	if o.fixed && img.bias != 0 {
		return fmt.Errorf("base %#x does not match a non-relocatable image at %#x", img.base, o.vmaddr)
	}
	if img.size == 0 {
		img.size = o.span
	}
	var sentName string
	var sentFile uint64
	if img.rec.IsMain && s.sentinel.valid() && s.sentinel.Addr >= img.bias {
		sentName, sentFile = s.sentinel.Symbol, s.sentinel.Addr-img.bias
	}
	if o.gopcln != nil {
		if err := o.gopcln.resolveText(o, sentName, sentFile); err != nil {
			s.log.Debug("symbolize: Go pc-line table not used", "path", img.rec.Path, "reason", err)
			o.gopcln = nil
		}
	}
	if sentName != "" {
		if a, ok := o.symbolAddr(sentName); ok && a != sentFile {
			return fmt.Errorf("sentinel %s at %#x says bias %#x, the recorded base says %#x",
				sentName, s.sentinel.Addr, s.sentinel.Addr-a, img.bias)
		}
	}
	return nil
}

// load opens and checks the file of img. Images without a recorded id are
// refused before any file is touched.
func (s *Symbolizer) load(img *image) (*object, error) {
	if img.id == nil {
		return nil, errors.New("no build-id/UUID recorded, the file on disk cannot be matched")
	}
	key := keyOf(img, s.debugDirs)
	if o := imageCache.get(key); o != nil {
		return o, nil
	}
	f, _, err := openRegular(img.rec.Path)
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		f.Close()
		return nil, err
	}
	var o *object
	switch {
	case bytes.Equal(magic[:], []byte("\x7fELF")):
		if img.format != "elf" {
			err = fmt.Errorf("%w: file is ELF, the image was recorded as %q", errMismatch, img.format)
		} else {
			o, err = openELF(f, img.id, s.debugDirs)
		}
	case isMachOMagic(magic):
		if img.format != "macho" {
			err = fmt.Errorf("%w: file is Mach-O, the image was recorded as %q", errMismatch, img.format)
		} else {
			o, err = openMachO(f, img.id)
		}
	default:
		err = fmt.Errorf("not an ELF or Mach-O file (magic %x)", magic)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	o.closers = append([]io.Closer{f}, o.closers...)
	fi, err := f.Stat()
	if err != nil {
		fi = nil
	}
	return imageCache.put(key, fi, o), nil
}

func isMachOMagic(m [4]byte) bool {
	switch string(m[:]) {
	case "\xfe\xed\xfa\xce", "\xce\xfa\xed\xfe", "\xfe\xed\xfa\xcf", "\xcf\xfa\xed\xfe", "\xca\xfe\xba\xbe":
		return true
	}
	return false
}

// Close closes the image files. Frames asked for afterwards carry only
// their PC.
func (s *Symbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, img := range s.images {
		if img.obj != nil {
			if err := img.obj.close(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	s.images, s.pending = nil, nil
	return errors.Join(errs...)
}

func hexAddr(a uint64) string { return fmt.Sprintf("%#x", a) }

var _ io.Closer = (*Symbolizer)(nil)
