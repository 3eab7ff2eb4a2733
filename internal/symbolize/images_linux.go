package symbolize

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/crashguard/crashguard-go/internal/report"
)

// maxMapsSize caps /proc/self/maps; a process with a million mappings is
// not one whose images we can afford to list at Install.
const maxMapsSize = 16 << 20

// CurrentImages returns the ELF images (executable and shared libraries)
// mapped in the current process, in address order, with Base as the
// package documentation defines it, Size, ImageVMAddr, the GNU build-id
// and IsMain. It is pure Go, for Install when the native layer is off and
// as a cross-check of the native layer's list.
//
// The mappings come from /proc/self/maps; the ELF and program headers and
// the build-id are read from the process's own memory (/proc/self/mem,
// where a bad address is an error, not a fault), so they describe what was
// loaded even if the file on disk was replaced since. Only when the
// build-id note is not in a PT_NOTE segment (the Go linker puts it in a
// note section outside one) is the file consulted, for the note's address.
// Anonymous mappings and the vdso are left out: there is no file to
// symbolize them from.
func CurrentImages() ([]report.Image, error) {
	maps, err := readMaps()
	if err != nil {
		return nil, err
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, err
	}
	defer mem.Close()

	// The executable is the mapping of /proc/self/exe's file at its path.
	// Its inode comes from /proc/self/exe itself (the path may name another
	// file since), or else from its path: QEMU user emulation fakes the
	// link's target (the guest program) but not stat, which sees QEMU.
	exePath, _ := os.Readlink("/proc/self/exe")
	exeIno, pathIno := inodeOf("/proc/self/exe"), uint64(0)
	if exePath != "" {
		pathIno = inodeOf(exePath)
	}

	var out []report.Image
	for _, m := range maps {
		if m.off != 0 || m.ino == 0 || !strings.HasPrefix(m.path, "/") {
			continue
		}
		img, progs, err := imageAt(mem, m.start, m.path)
		if err != nil {
			continue // a data file mapped at offset 0, not an ELF image
		}
		// A loaded image has its code mapped where its program headers
		// say; a file merely mmap'ed for reading does not.
		if !codeMapped(maps, m, img.Base-img.ImageVMAddr, progs) {
			continue
		}
		img.Path = strings.TrimSuffix(m.path, " (deleted)")
		img.IsMain = m.path == exePath && m.ino != 0 && (m.ino == exeIno || m.ino == pathIno)
		out = append(out, img)
	}
	return out, nil
}

// inodeOf is the inode number of the file at path, 0 if unknown.
func inodeOf(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// mapping is one line of /proc/self/maps.
type mapping struct {
	start, end uint64
	perms      string
	off        uint64
	dev        string
	ino        uint64
	path       string
}

func readMaps() ([]mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(io.LimitReader(f, maxMapsSize))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapsLine parses "start-end perms offset dev inode   path"; the path
// may contain spaces (and ends in " (deleted)" for a removed file).
func parseMapsLine(line string) (mapping, bool) {
	var m mapping
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return m, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, false
	}
	var err1, err2, err3, err4 error
	m.start, err1 = strconv.ParseUint(lo, 16, 64)
	m.end, err2 = strconv.ParseUint(hi, 16, 64)
	m.off, err3 = strconv.ParseUint(fields[2], 16, 64)
	m.ino, err4 = strconv.ParseUint(fields[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return m, false
	}
	m.perms, m.dev = fields[1], fields[3]
	if len(fields) > 5 {
		// The path starts at the first non-space after the inode.
		rest := line
		for i := 0; i < 5; i++ {
			rest = strings.TrimLeft(rest, " ")
			rest = rest[strings.IndexByte(rest, ' ')+1:]
		}
		m.path = strings.TrimLeft(rest, " ")
	}
	return m, true
}

// codeMapped reports whether every executable PT_LOAD of the image whose
// header mapping is hdr is mapped, executable, from the same file, at
// bias + p_vaddr (page aligned) with file offset p_offset (page aligned).
func codeMapped(maps []mapping, hdr mapping, bias uint64, progs []elf.ProgHeader) bool {
	page := uint64(os.Getpagesize())
	code := false
	for _, p := range progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		code = true
		start, off := (bias+p.Vaddr)&^(page-1), p.Off&^(page-1)
		found := false
		for _, m := range maps {
			if m.start == start && m.off == off && m.dev == hdr.dev && m.ino == hdr.ino && strings.Contains(m.perms, "x") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return code
}

// imageAt reads the ELF image whose header is mapped at base.
func imageAt(mem io.ReaderAt, base uint64, path string) (report.Image, []elf.ProgHeader, error) {
	var ident [elf.EI_NIDENT]byte
	if _, err := mem.ReadAt(ident[:], int64(base)); err != nil {
		return report.Image{}, nil, err
	}
	if !bytes.HasPrefix(ident[:], []byte(elf.ELFMAG)) {
		return report.Image{}, nil, errors.New("not ELF")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if elf.Data(ident[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	progs, err := readProgs(mem, base, elf.Class(ident[elf.EI_CLASS]), order)
	if err != nil {
		return report.Image{}, nil, err
	}
	img := report.Image{Base: base, Type: "elf"}
	first := true
	var end uint64
	for _, p := range progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if first {
			if p.Off > p.Vaddr {
				return img, nil, errors.New("first PT_LOAD below its file offset")
			}
			img.ImageVMAddr, first = p.Vaddr-p.Off, false
		}
		end = max(end, p.Vaddr+p.Memsz)
	}
	if first || end <= img.ImageVMAddr || base < img.ImageVMAddr {
		return img, nil, errors.New("no PT_LOAD")
	}
	img.Size = end - img.ImageVMAddr
	bias := base - img.ImageVMAddr

	id := noteBuildID(mem, bias, progs, order)
	if id == nil {
		id = sectionBuildID(mem, bias, path, order)
	}
	img.BuildID = hex.EncodeToString(id)
	return img, progs, nil
}

// readProgs reads the program headers of the ELF image at base.
func readProgs(mem io.ReaderAt, base uint64, class elf.Class, order binary.ByteOrder) ([]elf.ProgHeader, error) {
	var progs []elf.ProgHeader
	switch class {
	case elf.ELFCLASS64:
		var h elf.Header64
		if err := binary.Read(io.NewSectionReader(mem, int64(base), 64), order, &h); err != nil {
			return nil, err
		}
		if h.Phentsize != 56 || h.Phnum == 0 || h.Phnum > 512 {
			return nil, fmt.Errorf("odd program headers (%d of %d bytes)", h.Phnum, h.Phentsize)
		}
		ph := make([]elf.Prog64, h.Phnum)
		if err := binary.Read(io.NewSectionReader(mem, int64(base+h.Phoff), int64(h.Phnum)*56), order, ph); err != nil {
			return nil, err
		}
		for _, p := range ph {
			progs = append(progs, elf.ProgHeader{Type: elf.ProgType(p.Type), Flags: elf.ProgFlag(p.Flags), Off: p.Off, Vaddr: p.Vaddr, Filesz: p.Filesz, Memsz: p.Memsz, Align: p.Align})
		}
	case elf.ELFCLASS32:
		var h elf.Header32
		if err := binary.Read(io.NewSectionReader(mem, int64(base), 52), order, &h); err != nil {
			return nil, err
		}
		if h.Phentsize != 32 || h.Phnum == 0 || h.Phnum > 512 {
			return nil, fmt.Errorf("odd program headers (%d of %d bytes)", h.Phnum, h.Phentsize)
		}
		ph := make([]elf.Prog32, h.Phnum)
		if err := binary.Read(io.NewSectionReader(mem, int64(base)+int64(h.Phoff), int64(h.Phnum)*32), order, ph); err != nil {
			return nil, err
		}
		for _, p := range ph {
			progs = append(progs, elf.ProgHeader{Type: elf.ProgType(p.Type), Flags: elf.ProgFlag(p.Flags), Off: uint64(p.Off), Vaddr: uint64(p.Vaddr), Filesz: uint64(p.Filesz), Memsz: uint64(p.Memsz), Align: uint64(p.Align)})
		}
	default:
		return nil, errors.New("unknown ELF class")
	}
	return progs, nil
}

// noteBuildID looks for the build-id in the PT_NOTE segments in memory,
// as the dynamic loader (and dl_iterate_phdr) sees them.
func noteBuildID(mem io.ReaderAt, bias uint64, progs []elf.ProgHeader, order binary.ByteOrder) []byte {
	for _, p := range progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if id := buildIDAt(mem, bias+p.Vaddr, p.Filesz, order, p.Align); id != nil {
			return id
		}
	}
	return nil
}

// sectionBuildID finds the allocated note sections in the file and reads
// them from memory: the file gives where, memory gives what, so a file
// replaced on disk cannot lend its id to the image that was loaded.
func sectionBuildID(mem io.ReaderAt, bias uint64, path string, order binary.ByteOrder) []byte {
	f, _, err := openRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil
	}
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_NOTE || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if id := buildIDAt(mem, bias+s.Addr, s.Size, order, s.Addralign); id != nil {
			return id
		}
	}
	return nil
}
