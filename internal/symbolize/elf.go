package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"
)

// maxNoteSize caps a note section or segment read while looking for the
// build-id; real ones are a few dozen bytes.
const maxNoteSize = 64 << 10

// BuildID returns the GNU build-id (the NT_GNU_BUILD_ID note's bytes) of
// the ELF file at path: the identity Sentry and the crash record use for
// ELF images. A file without one returns an error.
func BuildID(path string) ([]byte, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, err
	}
	id := elfBuildID(ef)
	if id == nil {
		return nil, fmt.Errorf("%s: no GNU build-id note", path)
	}
	return id, nil
}

// elfBuildID finds NT_GNU_BUILD_ID in the note sections, else in the
// PT_NOTE segments (a file whose section headers were removed).
func elfBuildID(f *elf.File) []byte {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE || s.Size > maxNoteSize {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := gnuBuildID(data, f.ByteOrder, s.Addralign); id != nil {
			return id
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if id := buildIDAt(p, 0, p.Filesz, f.ByteOrder, p.Align); id != nil {
			return id
		}
	}
	return nil
}

// buildIDAt reads the size bytes of notes at off in r (a file, or the
// memory of the process) and returns the build-id among them, if any.
func buildIDAt(r io.ReaderAt, off, size uint64, order binary.ByteOrder, align uint64) []byte {
	if size == 0 || size > maxNoteSize {
		return nil
	}
	data := make([]byte, size)
	if n, _ := r.ReadAt(data, int64(off)); n < len(data) {
		return nil
	}
	return gnuBuildID(data, order, align)
}

// gnuBuildID walks ELF notes (namesz, descsz, type, name, desc; name and
// desc padded to align, which is 4, or 8 for some PT_NOTE segments) and
// returns the descriptor of the "GNU" note of type NT_GNU_BUILD_ID (3).
func gnuBuildID(data []byte, order binary.ByteOrder, align uint64) []byte {
	if align != 8 {
		align = 4
	}
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }
	for len(data) >= 12 {
		namesz := uint64(order.Uint32(data[0:]))
		descsz := uint64(order.Uint32(data[4:]))
		typ := order.Uint32(data[8:])
		rest := uint64(len(data) - 12)
		if namesz > rest || pad(namesz) > rest || descsz > rest-pad(namesz) {
			return nil
		}
		name := data[12 : 12+namesz]
		desc := data[12+pad(namesz) : 12+pad(namesz)+descsz]
		if typ == 3 && bytes.Equal(bytes.TrimRight(name, "\x00"), []byte("GNU")) && descsz > 0 {
			return bytes.Clone(desc)
		}
		next := 12 + pad(namesz) + pad(descsz)
		if next > uint64(len(data)) {
			return nil
		}
		data = data[next:]
	}
	return nil
}

// openELF reads the ELF image in r and checks that its build-id is want.
// A stripped image borrows symbols and lines from its separate debug file
// when one with the same build-id is found in debugDirs.
func openELF(r io.ReaderAt, want []byte, debugDirs []string) (*object, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	have := elfBuildID(f)
	if have == nil {
		return nil, fmt.Errorf("%w: file has no build-id, the image had %x", errMismatch, want)
	}
	if !bytes.Equal(have, want) {
		return nil, fmt.Errorf("%w: build-id %x, the image had %x", errMismatch, have, want)
	}

	o := &object{fixed: f.Type == elf.ET_EXEC}
	first := true
	var end uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		// The image starts where its first byte (the ELF header) is
		// mapped: the first PT_LOAD maps file offset p_offset at p_vaddr.
		if first && p.Off <= p.Vaddr {
			o.vmaddr, first = p.Vaddr-p.Off, false
		}
		end = max(end, p.Vaddr+p.Memsz)
	}
	if first || end <= o.vmaddr {
		return nil, errors.New("no loadable segment")
	}
	o.span = end - o.vmaddr

	raw, anchors, full := elfSymbols(f)
	o.anchors = anchors
	dwarfFile, dwarfRaw, hasDWARF := f, r, hasELFDWARF(f)
	if !full || !hasDWARF {
		if df, c := debugFile(want, debugDirs); df != nil {
			o.closers = append(o.closers, c)
			if draw, danchors, dfull := elfSymbols(df); !full && dfull {
				raw = draw
				maps.Copy(o.anchors, danchors)
			}
			if !hasDWARF {
				dwarfFile, hasDWARF = df, hasELFDWARF(df)
				dwarfRaw, _ = c.(io.ReaderAt)
			}
		}
	}
	o.syms = newSymtab(raw)
	if s := f.Section(".text"); s != nil {
		o.textStart, o.textEnd = s.Addr, s.Addr+s.Size
	}
	// The Go linker never emits .init; every host (gcc, clang) link does,
	// from crti.o, and puts C start-up code ahead of Go text.
	o.internalLink = f.Section(".init") == nil

	if s := f.Section(".gopclntab"); s != nil && s.Type != elf.SHT_NOBITS {
		if s.Flags&elf.SHF_COMPRESSED == 0 && s.ReaderAt != nil {
			// The header now, the table when a pc falls in Go text.
			o.gopcln, _ = newGoTableAt(s, int64(s.Size), f.ByteOrder, s.Data)
		} else if data, err := s.Data(); err == nil {
			o.gopcln, _ = newGoTable(data, f.ByteOrder)
		}
	}
	if hasDWARF {
		// Go text, when the symbols bound it and a host linker linked the
		// image: then it holds Go functions only (C code is in other
		// input sections), and the Go linker's line programs need not be
		// indexed.
		var goText [2]uint64
		text, ok1 := o.anchors["runtime.text"]
		etext, ok2 := o.anchors["runtime.etext"]
		if ok1 && ok2 && text < etext && !o.internalLink {
			goText = [2]uint64{text, etext}
		}
		o.lines = newLineSource(func() (*dwarfLines, error) {
			return newELFLines(dwarfFile, dwarfRaw, goText)
		}, func() (*dwarfLines, error) {
			d, err := dwarfFile.DWARF()
			if err != nil {
				return nil, err
			}
			return newDWARFLines(d)
		})
	}
	return o, nil
}

// debugFile opens the separate debug file of the image with build-id id,
// if one with that build-id exists in dirs.
func debugFile(id []byte, dirs []string) (*elf.File, io.Closer) {
	if len(id) < 2 {
		return nil, nil
	}
	h := hex.EncodeToString(id)
	for _, dir := range dirs {
		f, _, err := openRegular(filepath.Join(dir, ".build-id", h[:2], h[2:]+".debug"))
		if err != nil {
			continue
		}
		ef, err := elf.NewFile(f)
		if err == nil && bytes.Equal(elfBuildID(ef), id) {
			return ef, f
		}
		f.Close()
	}
	return nil, nil
}

// elfSymbols returns the function symbols of .symtab, or of .dynsym when
// .symtab was stripped (a shared library keeps its exported functions
// there), the addresses of the Go text anchors among them, and whether
// they came from .symtab.
func elfSymbols(f *elf.File) ([]rawSym, map[string]uint64, bool) {
	if raw, anchors, ok := elfSymtab(f); ok {
		return raw, anchors, true
	}
	syms, err := f.Symbols()
	full := err == nil && len(syms) > 0
	if !full {
		syms, _ = f.DynamicSymbols()
	}
	raw, anchors := functionSymbols(f, syms)
	return raw, anchors, full
}

// functionSymbols keeps the function symbols of syms that elfSymbols
// returns.
func functionSymbols(f *elf.File, syms []elf.Symbol) ([]rawSym, map[string]uint64) {
	anchors := map[string]uint64{}
	var raw []rawSym
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC {
			continue
		}
		if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		if isAnchor(s.Name) {
			anchors[s.Name] = s.Value
		}
		if goMarkers[s.Name] {
			continue
		}
		rank := 0
		if s.Size > 0 {
			rank += 4
		}
		switch elf.ST_BIND(s.Info) {
		case elf.STB_GLOBAL:
			rank += 2
		case elf.STB_WEAK:
			rank++
		}
		raw = append(raw, rawSym{name: s.Name, addr: s.Value, size: s.Size, limit: sec.Addr + sec.Size, rank: rank})
	}
	return raw, anchors
}

// elfSymtab reads .symtab as elfSymbols does through debug/elf's Symbols,
// without a string allocated per symbol: the names are substrings of one
// copy of the string table (a Go binary has tens of thousands of symbols,
// and this runs for every image opened cold). ok is false when the file
// has no .symtab, or one this does not read (debug/elf then does).
func elfSymtab(f *elf.File) (raw []rawSym, anchors map[string]uint64, ok bool) {
	var symSec *elf.Section
	for _, s := range f.Sections {
		if s.Type == elf.SHT_SYMTAB {
			symSec = s
			break
		}
	}
	if symSec == nil || symSec.Flags&elf.SHF_COMPRESSED != 0 || symSec.Link == 0 || int(symSec.Link) >= len(f.Sections) {
		return nil, nil, false
	}
	strSec := f.Sections[symSec.Link]
	if strSec.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, nil, false
	}
	size := 24
	if f.Class == elf.ELFCLASS32 {
		size = 16
	} else if f.Class != elf.ELFCLASS64 {
		return nil, nil, false
	}
	data, err := symSec.Data()
	if err != nil || len(data)%size != 0 || len(data) <= size {
		return nil, nil, false
	}
	strData, err := strSec.Data()
	if err != nil {
		return nil, nil, false
	}
	strtab := string(strData)
	order := f.ByteOrder
	anchors = map[string]uint64{}
	for off := size; off < len(data); off += size { // entry 0 is the null symbol
		e := data[off : off+size]
		var nameOff uint32
		var info uint8
		var shndx uint16
		var value, sz uint64
		if size == 24 {
			nameOff, info, shndx = order.Uint32(e), e[4], order.Uint16(e[6:])
			value, sz = order.Uint64(e[8:]), order.Uint64(e[16:])
		} else {
			nameOff, value, sz = order.Uint32(e), uint64(order.Uint32(e[4:])), uint64(order.Uint32(e[8:]))
			info, shndx = e[12], order.Uint16(e[14:])
		}
		typ := elf.ST_TYPE(info)
		if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC {
			continue
		}
		sect := elf.SectionIndex(shndx)
		if sect == elf.SHN_UNDEF || sect >= elf.SHN_LORESERVE || int(sect) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[sect]
		if sec.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		if int(nameOff) >= len(strtab) {
			return nil, nil, false
		}
		name := strtab[nameOff:]
		if end := strings.IndexByte(name, 0); end >= 0 {
			name = name[:end]
		} else {
			name = "" // as debug/elf names an unterminated string
		}
		if isAnchor(name) {
			anchors[name] = value
		}
		if goMarkers[name] {
			continue
		}
		rank := 0
		if sz > 0 {
			rank += 4
		}
		switch elf.ST_BIND(info) {
		case elf.STB_GLOBAL:
			rank += 2
		case elf.STB_WEAK:
			rank++
		}
		raw = append(raw, rawSym{name: name, addr: value, size: sz, limit: sec.Addr + sec.Size, rank: rank})
	}
	return raw, anchors, true
}

// hasELFDWARF reports whether f has line tables small enough to load.
func hasELFDWARF(f *elf.File) bool {
	var total uint64
	line := false
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			total += s.Size
			line = line || strings.HasSuffix(s.Name, "debug_line")
		}
	}
	return line && total <= maxDebugSize
}
