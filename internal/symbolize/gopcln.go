package symbolize

import (
	"bytes"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// goTable is the Go pc-line table (.gopclntab / __gopclntab) of an image:
// function, file and line for any pc in Go text, even in a binary whose
// symbol table was stripped (the runtime needs the table, so strip keeps it).
//
// Since Go 1.18 function entries are stored as offsets from runtime.text,
// and the header field that once held runtime.text is written as 0 by
// current linkers. runtime.text is not the start of the text section when
// a host linker put C start-up code first (cgo, -linkmode=external), so
// the table is built at text 0 and the text start is found separately
// (resolveText) before any lookup; with a wrong start every answer would
// be a neighbouring function, so an image whose start cannot be found is
// not looked up at all.
//
// The table itself (debug/gosym's, a Func with its name for every Go
// function) is parsed only when a pc falls in Go text or a Go function is
// looked up by name: a stack of native frames never needs it, and the
// extent of Go text is read from the header alone.
type goTable struct {
	src      *goSource // shared by the copies of a cached object
	relative bool      // entries are offsets from runtime.text (Go 1.18+)
	text     uint64    // runtime.text as a file address, once known
	known    bool      // text has been resolved
	size     uint64    // end of the last function, in table coordinates
}

// goSource is the raw table, parsed on first use.
type goSource struct {
	load func() ([]byte, error) // the whole table
	once sync.Once
	tab  *gosym.Table
}

// table returns the parsed table, nil when it cannot be read or parsed.
func (g *goTable) table() *gosym.Table {
	s := g.src
	s.once.Do(func() {
		// debug/gosym trusts its input; a corrupt table must cost us
		// one image, not the collector.
		defer func() {
			if recover() != nil {
				s.tab = nil
			}
		}()
		data, err := s.load()
		if err != nil {
			return
		}
		tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, 0))
		if err == nil && len(tab.Funcs) > 0 {
			s.tab = tab
		}
	})
	return s.tab
}

// pclntab magic numbers (first 4 bytes, in the file's byte order).
const (
	go12magic  = 0xfffffffb
	go116magic = 0xfffffffa
	go118magic = 0xfffffff0
	go120magic = 0xfffffff1
)

// newGoTable checks the header of a pc-line table held in memory. order
// is the image's byte order.
func newGoTable(data []byte, order binary.ByteOrder) (*goTable, error) {
	return newGoTableAt(bytes.NewReader(data), int64(len(data)), order, func() ([]byte, error) { return data, nil })
}

// newGoTableAt checks the header of the size-byte pc-line table in r, and
// reads the whole table with load only when it is first needed.
func newGoTableAt(r io.ReaderAt, size int64, order binary.ByteOrder, load func() ([]byte, error)) (*goTable, error) {
	if size < 16 {
		return nil, errors.New("pclntab too short")
	}
	hdr := make([]byte, min(size, 8+8*8))
	if n, _ := r.ReadAt(hdr, 0); n < len(hdr) {
		return nil, errors.New("pclntab header unreadable")
	}
	g := &goTable{src: &goSource{load: load}}
	switch order.Uint32(hdr) {
	case go118magic, go120magic:
		g.relative = true
		end, err := goTextSize(hdr, size, r, order)
		if err != nil {
			return nil, err
		}
		g.size = end
	case go12magic, go116magic:
		// Entries are absolute addresses: nothing to resolve.
		g.known = true
	default:
		return nil, fmt.Errorf("unknown pclntab magic %#x", order.Uint32(hdr))
	}
	return g, nil
}

// goTextSize reads the end of the last function of a Go 1.18+ table: the
// pc of the function table's closing entry (debug/gosym's Funcs[n-1].End).
// Header (hdr, its first bytes): magic, two pad bytes, minLC, ptrSize,
// then words nfunc, nfiles, textStart, funcnameOffset, cuOffset,
// filetabOffset, pctabOffset, pclnOffset; the function table at
// pclnOffset holds nfunc (entryoff, funcoff) pairs of uint32, then the end
// entryoff.
func goTextSize(hdr []byte, size int64, r io.ReaderAt, order binary.ByteOrder) (uint64, error) {
	ptr := int(hdr[7])
	if ptr != 4 && ptr != 8 {
		return 0, fmt.Errorf("pclntab pointer size %d", ptr)
	}
	word := func(i int) (uint64, bool) {
		off := 8 + i*ptr
		if off+ptr > len(hdr) {
			return 0, false
		}
		if ptr == 4 {
			return uint64(order.Uint32(hdr[off:])), true
		}
		return order.Uint64(hdr[off:]), true
	}
	nfunc, ok1 := word(0)
	ftab, ok2 := word(7)
	if !ok1 || !ok2 || nfunc == 0 || ftab >= uint64(size) || nfunc > (uint64(size)-ftab)/8 {
		return 0, errors.New("pclntab header out of range")
	}
	end := ftab + nfunc*8
	if end+4 > uint64(size) {
		return 0, errors.New("pclntab function table out of range")
	}
	var b [4]byte
	if n, _ := r.ReadAt(b[:], int64(end)); n < 4 {
		return 0, errors.New("pclntab function table unreadable")
	}
	return uint64(order.Uint32(b[:])), nil
}

// goAnchors are functions written in Go (or Go assembly) that a binary
// also lists in its ELF or Mach-O symbol table even when stripped: cgo
// exports them to C through the dynamic symbol table. Their address there
// minus their offset in the table is runtime.text.
var goAnchors = []string{"crosscall2", "_cgo_topofstack", "_cgo_panic"}

// isAnchor reports whether a symbol's address helps find runtime.text, or
// where Go text ends (runtime.etext).
func isAnchor(name string) bool {
	return name == "runtime.text" || name == "runtime.etext" || slices.Contains(goAnchors, name)
}

// resolveText finds runtime.text for o's table, in order of certainty:
//  1. the runtime.text symbol;
//  2. a Go function also named in the symbol table (goAnchors), which
//     must agree with every other one found;
//  3. the text section start, when the Go linker linked the image itself
//     (it always puts runtime.text first);
//  4. the sentinel: sentinelFile is the file address of a named Go
//     function, known when the caller knows the image's bias.
//
// The result must put all of Go text inside the text section.
func (g *goTable) resolveText(o *object, sentinelName string, sentinelFile uint64) error {
	if g.known {
		return nil
	}
	var (
		text  uint64
		found bool
		how   string
	)
	if a, ok := o.anchors["runtime.text"]; ok {
		text, found, how = a, true, "runtime.text symbol"
	}
	if !found {
		for _, name := range goAnchors {
			a, ok := o.anchors[name]
			if !ok {
				continue
			}
			tab := g.table()
			if tab == nil {
				break
			}
			f := tab.LookupFunc(name)
			if f == nil || a < f.Entry {
				continue
			}
			if found && a-f.Entry != text {
				return fmt.Errorf("go text anchors disagree (%s)", name)
			}
			text, found, how = a-f.Entry, true, "anchor "+name
		}
	}
	if !found && o.internalLink {
		text, found, how = o.textStart, true, "text section (internal link)"
	}
	if !found && sentinelName != "" {
		if tab := g.table(); tab != nil {
			if f := tab.LookupFunc(sentinelName); f != nil && sentinelFile >= f.Entry {
				text, found, how = sentinelFile-f.Entry, true, "sentinel"
			}
		}
	}
	if !found {
		return errors.New("cannot locate runtime.text (stripped, externally linked)")
	}
	if o.textEnd == 0 {
		return errors.New("no text section to check Go text against")
	}
	if text < o.textStart || text+g.size > o.textEnd {
		return fmt.Errorf("go text at %#x+%#x (from %s) is outside the text section %#x-%#x",
			text, g.size, how, o.textStart, o.textEnd)
	}
	g.text, g.known = text, true
	return nil
}

// lookup returns the Go function holding the file address addr, with the
// file and line of addr.
func (g *goTable) lookup(addr uint64) (fn *gosym.Func, file string, line int) {
	if g == nil || !g.known {
		return nil, "", 0
	}
	pc := addr
	if g.relative {
		// Outside Go text (native code) without parsing the table.
		if addr < g.text || addr-g.text >= g.size {
			return nil, "", 0
		}
		pc = addr - g.text
	}
	tab := g.table()
	if tab == nil {
		return nil, "", 0
	}
	defer func() {
		if recover() != nil {
			fn, file, line = nil, "", 0
		}
	}()
	file, line, fn = tab.PCToLine(pc)
	return fn, file, line
}

// entry returns fn's entry as a file address.
func (g *goTable) entry(fn *gosym.Func) uint64 {
	if g.relative {
		return fn.Entry + g.text
	}
	return fn.Entry
}

// funcAddr returns the file address of the Go function called name, once
// the text start is known.
func (g *goTable) funcAddr(name string) (uint64, bool) {
	if !g.known {
		return 0, false
	}
	tab := g.table()
	if tab == nil {
		return 0, false
	}
	f := tab.LookupFunc(name)
	if f == nil {
		return 0, false
	}
	return g.entry(f), true
}
