package symbolize

import (
	"bytes"
	"debug/macho"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// Mach-O constants debug/macho does not name.
const (
	lcUUID                 = 0x1b
	nStab                  = 0xe0
	nTypeMask              = 0x0e
	nSect                  = 0x0e
	nExt                   = 0x01
	sAttrPureInstructions  = 0x80000000
	sAttrSomeInstructions  = 0x00000400
	machoSectionAttributes = sAttrPureInstructions | sAttrSomeInstructions
)

// machoArch maps GOARCH to the Mach-O CPU type, to pick a slice of a
// universal file.
var machoArch = map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}

// MachOUUID returns the LC_UUID of the Mach-O file at path: the identity
// Sentry and the crash record use for Mach-O images. For a universal
// (fat) file it is the UUID of the slice for the running GOARCH.
func MachOUUID(path string) ([]byte, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if mf, err := macho.NewFile(f); err == nil {
		if id := machoUUID(mf); id != nil {
			return id, nil
		}
		return nil, fmt.Errorf("%s: no LC_UUID", path)
	}
	ff, err := macho.NewFatFile(f)
	if err != nil {
		return nil, err
	}
	for _, a := range ff.Arches {
		if a.Cpu == machoArch[runtime.GOARCH] {
			if id := machoUUID(a.File); id != nil {
				return id, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: no %s slice with an LC_UUID", path, runtime.GOARCH)
}

// machoUUID returns the 16 bytes of the LC_UUID load command, or nil.
func machoUUID(f *macho.File) []byte {
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) >= 24 && f.ByteOrder.Uint32(raw) == lcUUID {
			return bytes.Clone(raw[8:24])
		}
	}
	return nil
}

// openMachO reads the Mach-O image in r (thin, or the slice of a
// universal file whose UUID is want) and checks its UUID.
func openMachO(r io.ReaderAt, want []byte) (*object, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		ff, ferr := macho.NewFatFile(r)
		if ferr != nil {
			return nil, err
		}
		f = nil
		for _, a := range ff.Arches {
			if bytes.Equal(machoUUID(a.File), want) {
				f = a.File
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("%w: no slice of the universal file has UUID %x", errMismatch, want)
		}
	}
	if have := machoUUID(f); !bytes.Equal(have, want) {
		return nil, fmt.Errorf("%w: UUID %x, the image had %x", errMismatch, have, want)
	}

	text := f.Segment("__TEXT")
	if text == nil {
		return nil, errors.New("no __TEXT segment")
	}
	// The mach_header is the first byte of __TEXT (file offset 0), so the
	// image's start in the file's address space is __TEXT's vmaddr and
	// the slide is Base - vmaddr.
	o := &object{vmaddr: text.Addr, fixed: f.Type == macho.TypeExec && f.Flags&macho.FlagPIE == 0}
	var end uint64
	for _, l := range f.Loads {
		if s, ok := l.(*macho.Segment); ok && s.Name != "__PAGEZERO" && s.Addr >= text.Addr {
			end = max(end, s.Addr+s.Memsz)
		}
	}
	o.span = end - o.vmaddr

	var raw []rawSym
	o.anchors = map[string]uint64{}
	if f.Symtab != nil {
		for _, s := range f.Symtab.Syms {
			if s.Type&nStab != 0 || s.Type&nTypeMask != nSect || s.Sect == 0 || int(s.Sect) > len(f.Sections) {
				continue
			}
			sec := f.Sections[s.Sect-1]
			if sec.Flags&machoSectionAttributes == 0 {
				continue
			}
			name := machoName(s.Name)
			if isAnchor(name) {
				o.anchors[name] = s.Value
			}
			if goMarkers[name] {
				continue
			}
			rank := 0
			if s.Type&nExt != 0 {
				rank = 2
			}
			raw = append(raw, rawSym{name: name, addr: s.Value, limit: sec.Addr + sec.Size, rank: rank})
		}
	}
	o.syms = newSymtab(raw)

	if s := machoSection(f, "__TEXT", "__text"); s != nil {
		o.textStart, o.textEnd = s.Addr, s.Addr+s.Size
	}
	// Stubs for dynamic imports go in __symbol_stub1 when the Go linker
	// links the image itself; ld64 calls them __stubs and may put other
	// objects' code ahead of Go text.
	o.internalLink = machoSection(f, "__TEXT", "__symbol_stub1") != nil

	if s := f.Section("__gopclntab"); s != nil {
		if data, err := s.Data(); err == nil {
			o.gopcln, _ = newGoTable(data, f.ByteOrder)
		}
	}
	if hasMachODWARF(f) {
		o.lines = newLineSource(nil, func() (*dwarfLines, error) {
			d, err := f.DWARF()
			if err != nil {
				return nil, err
			}
			return newDWARFLines(d)
		})
	}
	return o, nil
}

// machoName undoes the C symbol prefix: the linkers add "_" to C names
// but not to Go names, which always contain a dot (cmd/link machosymtab).
func machoName(name string) string {
	if strings.HasPrefix(name, "_") && !strings.Contains(name, ".") {
		return name[1:]
	}
	return name
}

func machoSection(f *macho.File, seg, name string) *macho.Section {
	for _, s := range f.Sections {
		if s.Seg == seg && s.Name == name {
			return s
		}
	}
	return nil
}

// hasMachODWARF reports whether f carries line tables small enough to
// load (Go-linked binaries do; ld64-linked ones keep them in a .dSYM).
func hasMachODWARF(f *macho.File) bool {
	var total uint64
	line := false
	for _, s := range f.Sections {
		if s.Seg == "__DWARF" {
			total += s.Size
			line = line || strings.HasSuffix(s.Name, "debug_line")
		}
	}
	return line && total <= maxDebugSize
}
