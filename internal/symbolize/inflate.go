package symbolize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"math/bits"
)

// inflateZlib decompresses a zlib stream (RFC 1950) whose uncompressed size
// is known to be size, as in an SHF_COMPRESSED ELF section. It exists for
// speed: a compressed .debug_line is inflated whole, before anything in it
// can be read, and compress/flate (bit reader on an io.ByteReader, one code
// table level) spends about three times as long on it. The result is only
// returned when its length is size and its Adler-32 matches the stream's;
// any other outcome is an error, and the caller falls back to debug/elf.
func inflateZlib(in []byte, size uint64) (out []byte, err error) {
	if len(in) < 6 || size > maxDebugSize {
		return nil, errors.New("zlib: bad stream")
	}
	cmf, flg := in[0], in[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint16(cmf)<<8|uint16(flg))%31 != 0 || flg&0x20 != 0 {
		return nil, errors.New("zlib: bad header")
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("zlib: %v", r)
		}
	}()
	d := inflater{in: in[2 : len(in)-4], out: make([]byte, size)}
	if err := d.run(); err != nil {
		return nil, err
	}
	if d.o != len(d.out) {
		return nil, fmt.Errorf("zlib: %d bytes, the header says %d", d.o, size)
	}
	if adler32.Checksum(d.out) != binary.BigEndian.Uint32(in[len(in)-4:]) {
		return nil, errors.New("zlib: checksum mismatch")
	}
	return d.out, nil
}

const (
	huffFast = 10 // bits resolved by one table look-up
	maxCode  = 15
)

// huffman is a canonical Huffman code: a table for codes of up to huffFast
// bits (entry: symbol<<4 | length, 0 when the code is longer), and the
// counts and sorted symbols for the rest (decoded as in zlib's puff.c).
type huffman struct {
	fast  [1 << huffFast]uint16
	count [maxCode + 1]uint16
	syms  [288]uint16
}

var errBadCode = errors.New("zlib: bad Huffman code")

func (h *huffman) build(lengths []uint8) error {
	h.count = [maxCode + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l <= maxCode; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errBadCode // over-subscribed
		}
	}
	var offs [maxCode + 2]uint16
	for l := 1; l <= maxCode; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.syms[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	h.fast = [1 << huffFast]uint16{}
	code, idx := 0, 0
	for l := 1; l <= maxCode; l++ {
		for range int(h.count[l]) {
			if l <= huffFast {
				rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
				e := h.syms[idx]<<4 | uint16(l)
				for i := rev; i < 1<<huffFast; i += 1 << l {
					h.fast[i] = e
				}
			}
			code++
			idx++
		}
		code <<= 1
	}
	return nil
}

type inflater struct {
	in   []byte
	pos  int
	bits uint64
	nb   uint
	over int    // zero bytes read past the end
	out  []byte // as long as the header says
	o    int    // bytes written to out
	lit  huffman
	dist huffman
}

func (d *inflater) refill() {
	if d.pos+8 <= len(d.in) {
		d.bits |= binary.LittleEndian.Uint64(d.in[d.pos:]) << d.nb
		d.pos += int(63-d.nb) >> 3
		d.nb |= 56
		return
	}
	for d.nb <= 56 {
		if d.pos < len(d.in) {
			d.bits |= uint64(d.in[d.pos]) << d.nb
			d.pos++
		} else {
			d.over++
		}
		d.nb += 8
	}
}

func (d *inflater) get(n uint) uint64 {
	if d.nb < n {
		d.refill()
	}
	v := d.bits & (1<<n - 1)
	d.bits >>= n
	d.nb -= n
	return v
}

// sym decodes one symbol; the caller has refilled.
func (d *inflater) sym(h *huffman) (int, error) {
	if e := h.fast[d.bits&(1<<huffFast-1)]; e != 0 {
		n := uint(e & 15)
		d.bits >>= n
		d.nb -= n
		return int(e >> 4), nil
	}
	code, first, index := 0, 0, 0
	for l := uint(1); l <= maxCode; l++ {
		code |= int(d.bits>>(l-1)) & 1
		count := int(h.count[l])
		if code-count < first {
			d.bits >>= l
			d.nb -= l
			return int(h.syms[index+(code-first)]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errBadCode
}

var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func (d *inflater) run() error {
	for {
		if d.over > 8 {
			return errors.New("zlib: truncated")
		}
		final := d.get(1)
		var err error
		switch d.get(2) {
		case 0:
			err = d.stored()
		case 1:
			err = d.fixed()
		case 2:
			err = d.dynamic()
		default:
			err = errors.New("zlib: bad block type")
		}
		if err != nil {
			return err
		}
		if final == 1 {
			if d.nb < uint(d.over)*8 {
				return errors.New("zlib: truncated")
			}
			return nil
		}
	}
}

func (d *inflater) stored() error {
	d.bits >>= d.nb & 7
	d.nb -= d.nb & 7
	// Give back the whole bytes still buffered.
	back := int(d.nb>>3) - d.over
	if back < 0 {
		return errors.New("zlib: truncated")
	}
	d.pos -= back
	d.bits, d.nb, d.over = 0, 0, 0
	if d.pos+4 > len(d.in) {
		return errors.New("zlib: truncated")
	}
	n := int(binary.LittleEndian.Uint16(d.in[d.pos:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(d.in[d.pos+2:]) {
		return errors.New("zlib: bad stored block length")
	}
	d.pos += 4
	if d.pos+n > len(d.in) || d.o+n > len(d.out) {
		return errors.New("zlib: bad stored block")
	}
	d.o += copy(d.out[d.o:], d.in[d.pos:d.pos+n])
	d.pos += n
	return nil
}

func (d *inflater) fixed() error {
	var l [288 + 30]uint8
	for i := range 288 {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	for i := 288; i < len(l); i++ {
		l[i] = 5
	}
	if err := d.lit.build(l[:288]); err != nil {
		return err
	}
	if err := d.dist.build(l[288:]); err != nil {
		return err
	}
	return d.codes()
}

func (d *inflater) dynamic() error {
	nlen := int(d.get(5)) + 257
	ndist := int(d.get(5)) + 1
	ncode := int(d.get(4)) + 4
	if nlen > 286 || ndist > 30 {
		return errors.New("zlib: bad code counts")
	}
	var cl [19]uint8
	for i := range ncode {
		cl[clOrder[i]] = uint8(d.get(3))
	}
	if err := d.lit.build(cl[:]); err != nil {
		return err
	}
	var l [286 + 30]uint8
	for i := 0; i < nlen+ndist; {
		if d.nb < 32 {
			d.refill()
		}
		s, err := d.sym(&d.lit)
		if err != nil {
			return err
		}
		if s < 16 {
			l[i] = uint8(s)
			i++
			continue
		}
		var v uint8
		var rep int
		switch s {
		case 16:
			if i == 0 {
				return errors.New("zlib: repeat with no length")
			}
			v, rep = l[i-1], 3+int(d.get(2))
		case 17:
			rep = 3 + int(d.get(3))
		default:
			rep = 11 + int(d.get(7))
		}
		if i+rep > nlen+ndist {
			return errors.New("zlib: too many lengths")
		}
		for range rep {
			l[i] = v
			i++
		}
	}
	if l[256] == 0 {
		return errors.New("zlib: no end-of-block code")
	}
	if err := d.lit.build(l[:nlen]); err != nil {
		return err
	}
	if err := d.dist.build(l[nlen : nlen+ndist]); err != nil {
		return err
	}
	return d.codes()
}

func (d *inflater) codes() error {
	// The bit buffer and output position live in locals here, the loop
	// that runs once per symbol of the stream (no closure or defer takes
	// their address, so they stay in registers); d is updated on return
	// and around the rare calls that use it.
	in, out := d.in, d.out
	bits, nb, pos, o := d.bits, d.nb, d.pos, d.o
	var err error
	for {
		if nb < 48 {
			if pos+8 <= len(in) {
				bits |= binary.LittleEndian.Uint64(in[pos:]) << nb
				pos += int(63-nb) >> 3
				nb |= 56
			} else {
				d.bits, d.nb, d.pos = bits, nb, pos
				d.refill()
				bits, nb, pos = d.bits, d.nb, d.pos
				if d.over > 8 {
					err = errors.New("zlib: truncated")
					break
				}
			}
		}
		var s int
		if e := d.lit.fast[bits&(1<<huffFast-1)]; e != 0 {
			bits >>= e & 15
			nb -= uint(e & 15)
			s = int(e >> 4)
		} else {
			d.bits, d.nb = bits, nb
			s, err = d.sym(&d.lit)
			bits, nb = d.bits, d.nb
			if err != nil {
				break
			}
		}
		if s < 256 {
			if o >= len(out) {
				err = errors.New("zlib: longer than its header says")
				break
			}
			out[o] = byte(s)
			o++
			continue
		}
		if s == 256 {
			break
		}
		s -= 257
		if s >= 29 {
			err = errors.New("zlib: bad length code")
			break
		}
		n := int(lenBase[s]) + int(bits&(1<<lenExtra[s]-1))
		bits >>= lenExtra[s]
		nb -= uint(lenExtra[s])
		var ds int
		if e := d.dist.fast[bits&(1<<huffFast-1)]; e != 0 {
			bits >>= e & 15
			nb -= uint(e & 15)
			ds = int(e >> 4)
		} else {
			d.bits, d.nb = bits, nb
			ds, err = d.sym(&d.dist)
			bits, nb = d.bits, d.nb
			if err != nil {
				break
			}
		}
		if ds >= 30 {
			err = errors.New("zlib: bad distance code")
			break
		}
		dist := int(dstBase[ds]) + int(bits&(1<<dstExtra[ds]-1))
		bits >>= dstExtra[ds]
		nb -= uint(dstExtra[ds])
		if dist > o || n > len(out)-o {
			err = errors.New("zlib: bad distance or length")
			break
		}
		// Copy from dist back; when the source overlaps the destination,
		// every copy doubles what the next can read.
		dst := out[o : o+n]
		for w := 0; w < n; {
			w += copy(dst[w:], out[o-dist:o+w])
		}
		o += n
	}
	d.bits, d.nb, d.pos, d.o = bits, nb, pos, o
	return err
}
