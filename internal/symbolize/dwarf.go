package symbolize

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
)

// dwarfLines answers file and line for native code from DWARF line
// tables. Go code never comes here: the pc-line table is exact and cheaper.
type dwarfLines struct {
	d      *dwarf.Data
	units  []unitRange // sorted by low
	byUnit map[dwarf.Offset]*dwarf.LineReader
	// noCompDir: the units are newELFLines' stand-ins, which know the
	// compilation directory only from a DWARF 5 line table.
	noCompDir bool
	// skipped is the address range whose line programs were not indexed.
	skipped [2]uint64
}

// unitRange is one address range of a compilation unit.
type unitRange struct {
	low, high uint64
	unit      *dwarf.Entry
}

// newDWARFLines indexes the address ranges of every compilation unit, so
// that a lookup reads only the line program of the unit that holds addr.
func newDWARFLines(d *dwarf.Data) (*dwarfLines, error) {
	l := &dwarfLines{d: d, byUnit: map[dwarf.Offset]*dwarf.LineReader{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			ranges, err := d.Ranges(e)
			if err == nil {
				for _, rg := range ranges {
					if rg[1] > rg[0] {
						l.units = append(l.units, unitRange{low: rg[0], high: rg[1], unit: e})
					}
				}
			}
		}
		r.SkipChildren()
	}
	if len(l.units) == 0 {
		return nil, errors.New("no compilation unit has an address range")
	}
	sort.Slice(l.units, func(i, j int) bool { return l.units[i].low < l.units[j].low })
	return l, nil
}

// lookup returns the file and line of addr. relative says that the answer
// needs the compilation directory a stand-in unit lacks (noCompDir).
func (l *dwarfLines) lookup(addr uint64) (file string, line int, ok, relative bool) {
	if addr >= l.skipped[0] && addr < l.skipped[1] {
		return "", 0, false, true
	}
	i := sort.Search(len(l.units), func(i int) bool { return l.units[i].low > addr }) - 1
	if i < 0 || addr >= l.units[i].high {
		return "", 0, false, false
	}
	cu := l.units[i].unit
	lr, ok := l.byUnit[cu.Offset]
	if !ok {
		var err error
		lr, err = l.d.LineReader(cu)
		if err != nil {
			lr = nil
		}
		l.byUnit[cu.Offset] = lr
	}
	if lr == nil {
		return "", 0, false, false
	}
	var le dwarf.LineEntry
	if err := lr.SeekPC(addr, &le); err != nil || le.File == nil || le.Line <= 0 {
		return "", 0, false, false
	}
	name := le.File.Name
	if _, known := cu.Val(dwarf.AttrCompDir).(string); !path.IsAbs(name) && !known && l.noCompDir {
		return "", 0, false, true
	}
	if !path.IsAbs(name) {
		// The line table names files relative to the compilation
		// directory when the compiler was given a relative path.
		if dir, ok := cu.Val(dwarf.AttrCompDir).(string); ok && path.IsAbs(dir) {
			name = path.Join(dir, name)
		}
	}
	return name, le.Line, true, false
}

// newELFLines indexes the line tables of an ELF file reading .debug_line
// alone (with the string sections its file tables point into): not the
// debug info, locations or ranges, which for a Go binary are most of its
// DWARF and, compressed, most of what symbolizing native frames would
// cost. Each line program of .debug_line is given a stand-in compilation
// unit of its own (DW_AT_stmt_list, and DW_AT_comp_dir when the line
// table names it) so that debug/dwarf reads it exactly as it reads the
// real unit's; a unit's address ranges are those of its line sequences,
// found by lineSequences, which only follows addresses. debug/dwarf reads
// only the line programs that hold a pc looked up.
//
// goText, when not empty, is the range of Go text in an image a host
// linker linked: a line program that starts there is the Go linker's, and
// is not indexed (Go pcs are the pc-line table's); a pc in that range is
// not answered here (relative), as for a relative name.
//
// Only DWARF 5 line tables name the compilation directory (directory 0):
// a lookup in an older one that finds a relative file name is not
// answered here (relative), and the caller asks the whole debug info
// (newDWARFLines) instead.
func newELFLines(f *elf.File, raw io.ReaderAt, goText [2]uint64) (*dwarfLines, error) {
	line, err := plainSection(f, raw, ".debug_line", true)
	if err != nil {
		return nil, err
	}
	str, err := plainSection(f, raw, ".debug_str", false)
	if err != nil {
		return nil, err
	}
	lineStr, err := plainSection(f, raw, ".debug_line_str", false)
	if err != nil {
		return nil, err
	}
	order, ok := f.ByteOrder.(interface {
		binary.ByteOrder
		binary.AppendByteOrder
	})
	if !ok {
		return nil, errors.New("unknown byte order")
	}
	// Two abbreviations: a compilation unit without children holding
	// DW_AT_stmt_list as DW_FORM_sec_offset, and one that also holds
	// DW_AT_comp_dir as DW_FORM_string.
	abbrev := []byte{
		1, byte(dwarf.TagCompileUnit), 0, byte(dwarf.AttrStmtList), 0x17, 0, 0,
		2, byte(dwarf.TagCompileUnit), 0, byte(dwarf.AttrStmtList), 0x17, byte(dwarf.AttrCompDir), 0x08, 0, 0,
		0,
	}
	// The line programs with sequences to index, and where they are.
	type prog struct {
		off, end uint64
		seqs     [][2]uint64
	}
	var progs []prog
	kept := 0
	for off := uint64(0); off < uint64(len(line)); {
		if uint64(len(line))-off < 4 {
			break
		}
		n := uint64(order.Uint32(line[off:]))
		hdr := uint64(4)
		if n == 0xffffffff {
			if uint64(len(line))-off < 12 {
				return nil, errors.New("truncated 64-bit line program")
			}
			n, hdr = order.Uint64(line[off+4:]), 12
		} else if n >= 0xfffffff0 {
			return nil, fmt.Errorf("line program at %#x: reserved length %#x", off, n)
		}
		if n > uint64(len(line))-off-hdr {
			return nil, fmt.Errorf("line program at %#x overruns .debug_line", off)
		}
		end := off + hdr + n
		seqs, err := lineSequences(line[off:end], order, goText)
		if err != nil {
			return nil, fmt.Errorf("line program at %#x: %w", off, err)
		}
		if len(seqs) > 0 {
			progs = append(progs, prog{off, end, seqs})
			kept += int(end - off)
		}
		off = end
	}
	if len(progs) == 0 {
		return nil, errors.New("no line sequence")
	}
	// Keep only those programs when they are a small part of the section
	// (a Go binary's C code), so that the index cached for the process
	// does not hold the Go linker's line programs.
	if kept < len(line)/2 {
		compact := make([]byte, 0, kept)
		for i, p := range progs {
			at := uint64(len(compact))
			compact = append(compact, line[p.off:p.end]...)
			progs[i].off, progs[i].end = at, at+p.end-p.off
		}
		line = compact
	}
	if uint64(len(line)) > 0xffffffff {
		return nil, errors.New(".debug_line too large for the stand-in units")
	}
	var info []byte
	for _, p := range progs {
		// unit_length, version 4, debug_abbrev_offset 0, address_size,
		// abbreviation, DW_AT_stmt_list[, DW_AT_comp_dir].
		compDir, hasDir := lineCompDir(line[p.off:p.end], order.Uint32(line[p.off:]) == 0xffffffff, order, str, lineStr)
		size := 12
		if hasDir {
			size += len(compDir) + 1
		}
		info = order.AppendUint32(info, uint32(size))
		info = order.AppendUint16(info, 4)
		info = order.AppendUint32(info, 0)
		if hasDir {
			info = append(info, 8, 2)
			info = order.AppendUint32(info, uint32(p.off))
			info = append(append(info, compDir...), 0)
		} else {
			info = append(info, 8, 1)
			info = order.AppendUint32(info, uint32(p.off))
		}
	}
	d, err := dwarf.New(abbrev, nil, nil, info, line, nil, nil, str)
	if err != nil {
		return nil, err
	}
	if lineStr != nil {
		if err := d.AddSection(".debug_line_str", lineStr); err != nil {
			return nil, err
		}
	}
	l := &dwarfLines{d: d, byUnit: map[dwarf.Offset]*dwarf.LineReader{}, noCompDir: true, skipped: goText}
	r := d.Reader()
	for _, p := range progs {
		cu, err := r.Next()
		if err != nil {
			return nil, err
		}
		if cu == nil {
			return nil, errors.New("stand-in units lost")
		}
		for _, sq := range p.seqs {
			l.units = append(l.units, unitRange{low: sq[0], high: sq[1], unit: cu})
		}
	}
	if len(l.units) == 0 {
		return nil, errors.New("no line sequence")
	}
	slices.SortFunc(l.units, func(a, b unitRange) int { return cmp.Compare(a.low, b.low) })
	return l, nil
}

// plainSection returns the (decompressed) contents of the section called
// name, nil when the file has none and it is optional. A section in the
// old .zdebug form is an error: the caller falls back to debug/elf's DWARF.
// A zlib-compressed section is inflated by inflateZlib from the file's raw
// bytes (raw, the file f was read from) when it can, else by debug/elf.
func plainSection(f *elf.File, raw io.ReaderAt, name string, required bool) ([]byte, error) {
	s := f.Section(name)
	if s == nil {
		if f.Section(".z"+name[1:]) != nil {
			return nil, fmt.Errorf("%s is in the .zdebug form", name)
		}
		if required {
			return nil, fmt.Errorf("no %s section", name)
		}
		return nil, nil
	}
	if s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s has no data", name)
	}
	if s.Flags&elf.SHF_COMPRESSED != 0 && raw != nil {
		if data, err := inflateSection(f, raw, s); err == nil {
			return data, nil
		}
	}
	return s.Data()
}

// inflateSection reads a zlib SHF_COMPRESSED section with inflateZlib.
func inflateSection(f *elf.File, raw io.ReaderAt, s *elf.Section) ([]byte, error) {
	if s.FileSize > maxDebugSize || s.FileSize < 32 {
		return nil, errors.New("compressed section size out of range")
	}
	buf := make([]byte, s.FileSize)
	if _, err := raw.ReadAt(buf, int64(s.Offset)); err != nil {
		return nil, err
	}
	var typ uint32
	var size uint64
	var hdr int
	switch f.Class {
	case elf.ELFCLASS64: // Elf64_Chdr: type, reserved, size, addralign
		typ, size, hdr = f.ByteOrder.Uint32(buf), f.ByteOrder.Uint64(buf[8:]), 24
	case elf.ELFCLASS32: // Elf32_Chdr: type, size, addralign
		typ, size, hdr = f.ByteOrder.Uint32(buf), uint64(f.ByteOrder.Uint32(buf[4:])), 12
	default:
		return nil, errors.New("unknown ELF class")
	}
	if elf.CompressionType(typ) != elf.COMPRESS_ZLIB || size != s.Size {
		return nil, errors.New("not a zlib section of the size its header says")
	}
	return inflateZlib(buf[hdr:], size)
}

// lineCompDir returns directory 0 of a DWARF 5 line program header, which
// is the compilation directory (DWARF 5 §6.2.4.1: it corresponds to the
// unit's DW_AT_comp_dir). prog is the whole line program, from its
// unit_length. Earlier versions do not name it: ok is false.
func lineCompDir(prog []byte, dwarf64 bool, order binary.ByteOrder, str, lineStr []byte) (dir string, ok bool) {
	b := lineBuf{data: prog, order: order}
	if dwarf64 {
		b.skip(12)
	} else {
		b.skip(4)
	}
	if b.u16() < 5 {
		return "", false
	}
	b.skip(2)               // address_size, segment_selector_size
	b.offset(dwarf64)       // header_length
	b.skip(5)               // minimum_instruction_length … line_range
	b.skip(int(b.u8()) - 1) // opcode_base, standard_opcode_lengths
	type lnct struct{ content, form uint64 }
	formats := make([]lnct, b.u8())
	for i := range formats {
		formats[i] = lnct{b.uleb(), b.uleb()}
	}
	if b.uleb() == 0 || b.bad {
		return "", false
	}
	found := false
	for _, f := range formats {
		var s string
		var isStr bool
		switch f.form {
		case 0x08: // DW_FORM_string
			s, isStr = b.cstr(), true
		case 0x1f, 0x0e: // DW_FORM_line_strp, DW_FORM_strp
			sec := lineStr
			if f.form == 0x0e {
				sec = str
			}
			o := b.offset(dwarf64)
			if o >= uint64(len(sec)) {
				return "", false
			}
			s, isStr = (&lineBuf{data: sec[o:]}).cstr(), true
		case 0x0b, 0x25: // data1, strx1
			b.skip(1)
		case 0x05, 0x26: // data2, strx2
			b.skip(2)
		case 0x27: // strx3
			b.skip(3)
		case 0x06, 0x28: // data4, strx4
			b.skip(4)
		case 0x07: // data8
			b.skip(8)
		case 0x1e: // data16
			b.skip(16)
		case 0x0f, 0x1a: // udata, strx
			b.uleb()
		case 0x09: // block
			b.skip(int(b.uleb()))
		case 0x1d: // strp_sup
			b.offset(dwarf64)
		default:
			return "", false
		}
		if f.content == 1 { // DW_LNCT_path
			if !isStr {
				return "", false
			}
			dir, found = s, true
		}
	}
	if b.bad || !found {
		return "", false
	}
	return dir, true
}

// lineBuf reads a line program header; any overrun sets bad.
type lineBuf struct {
	data  []byte
	order binary.ByteOrder
	bad   bool
}

func (b *lineBuf) skip(n int) {
	if n < 0 || n > len(b.data) {
		b.bad, b.data = true, nil
		return
	}
	b.data = b.data[n:]
}

func (b *lineBuf) u8() int {
	if len(b.data) < 1 {
		b.bad = true
		return 0
	}
	v := b.data[0]
	b.data = b.data[1:]
	return int(v)
}

func (b *lineBuf) u16() int {
	if len(b.data) < 2 {
		b.bad = true
		return 0
	}
	v := b.order.Uint16(b.data)
	b.data = b.data[2:]
	return int(v)
}

func (b *lineBuf) offset(dwarf64 bool) uint64 {
	n := 4
	if dwarf64 {
		n = 8
	}
	if len(b.data) < n {
		b.bad, b.data = true, nil
		return 0
	}
	var v uint64
	if dwarf64 {
		v = b.order.Uint64(b.data)
	} else {
		v = uint64(b.order.Uint32(b.data))
	}
	b.data = b.data[n:]
	return v
}

func (b *lineBuf) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if len(b.data) == 0 || shift > 63 {
			b.bad, b.data = true, nil
			return 0
		}
		c := b.data[0]
		b.data = b.data[1:]
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (b *lineBuf) cstr() string {
	i := bytes.IndexByte(b.data, 0)
	if i < 0 {
		b.bad, b.data = true, nil
		return ""
	}
	s := string(b.data[:i])
	b.data = b.data[i+1:]
	return s
}

// lineSequences returns the address ranges [first row, end_sequence) of
// the sequences of the line program prog (from its unit_length on),
// following only the opcodes that move the address: far cheaper than
// materializing every row, and it is all an index needs. A program whose
// first opcode sets an address inside skip has no sequences.
func lineSequences(prog []byte, order binary.ByteOrder, skip [2]uint64) ([][2]uint64, error) {
	b := lineBuf{data: prog, order: order}
	n := uint64(b.offset(false))
	dwarf64 := false
	if n == 0xffffffff {
		dwarf64, n = true, b.offset(true)
	}
	if b.bad || n > uint64(len(b.data)) {
		return nil, errors.New("truncated")
	}
	b.data = b.data[:n]
	version := b.u16()
	if version < 2 || version > 5 {
		return nil, fmt.Errorf("line table version %d", version)
	}
	if version >= 5 {
		b.skip(2) // address_size, segment_selector_size
	}
	hlen := b.offset(dwarf64)
	if b.bad || hlen > uint64(len(b.data)) {
		return nil, errors.New("truncated header")
	}
	program := b.data[hlen:]
	minInst := uint64(b.u8())
	if version >= 4 && b.u8() != 1 {
		return nil, errors.New("VLIW line table (maximum_operations_per_instruction > 1)")
	}
	b.skip(1) // default_is_stmt
	b.skip(1) // line_base
	lineRange := uint64(b.u8())
	opBase := b.u8()
	if b.bad || lineRange == 0 || opBase == 0 || len(b.data) < opBase-1 {
		return nil, errors.New("bad header")
	}
	lengths := b.data[:opBase-1] // of opcodes 1 … opBase-1

	// The program, read with local variables: this loop runs over every
	// byte of every line program.
	p := program
	i := 0
	uleb := func() (uint64, bool) {
		var v uint64
		for shift := uint(0); i < len(p) && shift < 64; shift += 7 {
			c := p[i]
			i++
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return v, true
			}
		}
		return 0, false
	}
	if len(p) >= 3+8 && p[0] == 0 && p[1] == 9 && p[2] == 2 { // DW_LNE_set_address, 8 bytes
		if a := order.Uint64(p[3:]); a >= skip[0] && a < skip[1] {
			return nil, nil
		}
	}
	var seqs [][2]uint64
	var addr, start uint64
	inSeq := false
	advance := uint64(255-opBase) / lineRange * minInst
	for i < len(p) {
		op := int(p[i])
		i++
		if op >= opBase {
			addr += uint64(op-opBase) / lineRange * minInst
			if !inSeq {
				start, inSeq = addr, true
			}
			continue
		}
		switch op {
		case 0:
			size, ok := uleb()
			if !ok || size == 0 || size > uint64(len(p)-i) {
				return nil, errors.New("bad extended opcode")
			}
			body := p[i : i+int(size)]
			i += int(size)
			switch body[0] {
			case 1: // DW_LNE_end_sequence
				if !inSeq {
					start = addr
				}
				if addr > start {
					seqs = append(seqs, [2]uint64{start, addr})
				}
				addr, inSeq = 0, false
			case 2: // DW_LNE_set_address
				switch len(body) - 1 {
				case 8:
					addr = order.Uint64(body[1:])
				case 4:
					addr = uint64(order.Uint32(body[1:]))
				default:
					return nil, errors.New("bad DW_LNE_set_address")
				}
			}
		case 1: // DW_LNS_copy
			if !inSeq {
				start, inSeq = addr, true
			}
		case 2: // DW_LNS_advance_pc
			v, ok := uleb()
			if !ok {
				return nil, errors.New("truncated program")
			}
			addr += v * minInst
		case 8: // DW_LNS_const_add_pc
			addr += advance
		case 9: // DW_LNS_fixed_advance_pc
			if len(p)-i < 2 {
				return nil, errors.New("truncated program")
			}
			addr += uint64(order.Uint16(p[i:]))
			i += 2
		default: // operands that do not move the address
			for range lengths[op-1] {
				if _, ok := uleb(); !ok {
					return nil, errors.New("truncated program")
				}
			}
		}
	}
	return seqs, nil
}
