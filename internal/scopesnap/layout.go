// Package scopesnap keeps, in a file mapping beside a run, what a crash
// event needs from the live process and what is gone once it died: the
// sentry-go global hub's scope (user, tags, contexts, level, fingerprint,
// breadcrumbs), the exact breadcrumbs of a BeforeBreadcrumb hook, a
// runtime/metrics sample, and the runtime settings fixed at Install.
//
// # The file
//
// <runs>/<run-id>.scope (runfile.ScopeName) is created by the background
// goroutine (never by Install: a file creation costs about 150 µs there),
// sized once and mapped MAP_SHARED. Writes are stores into the mapping:
// no write(2), no fsync, no syscall per snapshot. The page cache outlives
// the process, which is all a process crash needs; a kernel crash or power
// loss loses the file like every other unsynced run file.
//
// Layout (native byte order: the file is read back on the machine that
// wrote it):
//
//	0       header: magic, version, section sizes, settings (JSON, CRC)
//	4096    scope slot A | scope slot B     2 × scopeSlotSize
//	        metrics slot A | metrics slot B 2 × metricsSlotSize
//	        ring: head (own cache line), ringEntries × ringEntrySize
//
// A slot is [seq u64][len u32][crc u32][payload]; crc is CRC-32C over seq,
// len and payload. Snapshot n goes to slot n%2: its seq word is zeroed
// first, then payload, len and crc written, and seq set to n last (atomic
// stores around plain copies). A crash at any moment therefore leaves at
// most one slot torn — zero seq or a CRC that does not match — and the
// reader takes the valid slot with the highest seq, or none: never a
// mixture. Ring entries use the same form, claimed by an atomic counter.
package scopesnap

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Sizes of the file's sections.
const (
	magic         = "CGSCOPE1"
	layoutVersion = 1
	headerSize    = 4096
	// scopeSlotSize bounds one scope snapshot: 100 breadcrumbs of a few
	// hundred bytes, tags and contexts fit many times over. A larger
	// snapshot loses its oldest breadcrumbs until it fits (Dropped).
	scopeSlotSize   = 128 << 10
	metricsSlotSize = 4096
	// ringEntries is more than sentry-go's default MaxBreadcrumbs (100).
	ringEntries   = 128
	ringEntrySize = 1024
	ringHeadSize  = 64

	slotHead = 16 // seq, len, crc

	scopeOff   = headerSize
	metricsOff = scopeOff + 2*scopeSlotSize
	ringOff    = metricsOff + 2*metricsSlotSize
	ringData   = ringOff + ringHeadSize
	// FileSize is the size of a scope file. Pages never written take no
	// memory or disk (the file is sparse).
	FileSize = ringData + ringEntries*ringEntrySize
)

// Header fields.
const (
	hMagic       = 0  // 8 bytes
	hVersion     = 8  // u32
	hFileSize    = 12 // u32
	hScopeSlot   = 16 // u32
	hMetricsSlot = 20 // u32
	hRingEntries = 24 // u32
	hRingEntry   = 28 // u32
	// The time of the last check that found the scope unchanged, for the
	// seq it confirmed: [seq u64][unix ns i64]. seq is zeroed while the
	// time is written.
	hCheckedSeq  = 32
	hCheckedAt   = 40
	hSettingsLen = 48 // u32
	hSettingsCRC = 52 // u32
	hSettings    = 56
	maxSettings  = headerSize - hSettings
)

// castagnoli is the CRC-32C table, made at its first use: making it takes
// about 0.4 ms (crc32 builds its SSE4.2 tables then), which as a
// package-level value every program importing crashguard paid before main,
// Install or not (7.8% of a start's CPU samples under perf).
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

var ne = binary.NativeEndian

// mem is the mapping (or, in tests and in the reader, a copy of the file).
type mem []byte

func (m mem) word(off int) *uint64 { return (*uint64)(unsafe.Pointer(&m[off])) }

func (m mem) storeSeq(off int, v uint64) { atomic.StoreUint64(m.word(off), v) }

func slotCRC(seq uint64, payload []byte) uint32 {
	var h [12]byte
	ne.PutUint64(h[:8], seq)
	ne.PutUint32(h[8:], uint32(len(payload)))
	return crc32.Update(crc32.Update(0, castagnoli(), h[:]), castagnoli(), payload)
}

// storer is where writeSlot stores: the mapping, or a test's recorder of
// the order of the stores.
type storer interface {
	copyAt(off int, b []byte)
	seqAt(off int, v uint64)
}

func (m mem) copyAt(off int, b []byte) { copy(m[off:], b) }
func (m mem) seqAt(off int, v uint64)  { m.storeSeq(off, v) }

// writeSlot writes payload as number seq into the slot at off of size
// size, in the order that keeps a torn slot detectable: seq zeroed, body,
// seq. It reports false (and writes nothing) when payload does not fit.
//
// It is writeSlot below without the storer interface, through which
// payload would escape (a breadcrumb's buffer could not stay on the
// stack); TestWriteSlotForms checks the two write the same bytes, the
// torn-write tests the order, through the other.
func (m mem) writeSlot(off, size int, seq uint64, payload []byte) bool {
	if len(payload) > size-slotHead || seq == 0 {
		return false
	}
	m.storeSeq(off, 0)
	body := m[off+slotHead : off+slotHead+len(payload)]
	copy(body, payload)
	ne.PutUint32(m[off+8:], uint32(len(payload)))
	// Over the copy: crc32 would let payload escape (its assembly
	// dispatch), and this is the same bytes.
	ne.PutUint32(m[off+12:], slotCRC(seq, body))
	m.storeSeq(off, seq)
	return true
}

func writeSlot(st storer, off, size int, seq uint64, payload []byte) bool {
	if len(payload) > size-slotHead || seq == 0 {
		return false
	}
	st.seqAt(off, 0)
	st.copyAt(off+slotHead, payload)
	var h [8]byte
	ne.PutUint32(h[:4], uint32(len(payload)))
	ne.PutUint32(h[4:], slotCRC(seq, payload))
	st.copyAt(off+8, h[:])
	st.seqAt(off, seq)
	return true
}

// readSlot returns the slot's seq and payload (a copy), or 0 when the slot
// is empty, torn or damaged.
func (m mem) readSlot(off, size int) (uint64, []byte) {
	if off < 0 || off+size > len(m) {
		return 0, nil
	}
	seq := ne.Uint64(m[off:])
	n := int(ne.Uint32(m[off+8:]))
	if seq == 0 || n > size-slotHead {
		return 0, nil
	}
	p := m[off+slotHead : off+slotHead+n]
	if ne.Uint32(m[off+12:]) != slotCRC(seq, p) {
		return 0, nil
	}
	return seq, append([]byte(nil), p...)
}

// newest returns the valid one of the two slots at off with the highest
// seq, or 0 and nil.
func (m mem) newest(off, size int) (uint64, []byte) {
	sa, pa := m.readSlot(off, size)
	sb, pb := m.readSlot(off+size, size)
	if sb > sa {
		return sb, pb
	}
	return sa, pa
}

// reset makes a taken-over file empty: the magic goes first (a crash
// meanwhile leaves no scope file to read), then every seq word, so that
// nothing of the run it belonged to can be read as this run's.
func (m mem) reset() {
	copy(m[hMagic:hMagic+8], make([]byte, 8))
	m.storeSeq(hCheckedSeq, 0)
	ne.PutUint32(m[hSettingsLen:], 0)
	for _, off := range []int{scopeOff, scopeOff + scopeSlotSize, metricsOff, metricsOff + metricsSlotSize, ringOff} {
		m.storeSeq(off, 0)
	}
	for i := uint64(0); i < ringEntries; i++ {
		m.storeSeq(ringSlot(i), 0)
	}
}

// initHeader writes the header of a new file, settings included.
func (m mem) initHeader(settings []byte) {
	if len(settings) > maxSettings {
		settings = nil
	}
	ne.PutUint32(m[hVersion:], layoutVersion)
	ne.PutUint32(m[hFileSize:], FileSize)
	ne.PutUint32(m[hScopeSlot:], scopeSlotSize)
	ne.PutUint32(m[hMetricsSlot:], metricsSlotSize)
	ne.PutUint32(m[hRingEntries:], ringEntries)
	ne.PutUint32(m[hRingEntry:], ringEntrySize)
	copy(m[hSettings:], settings)
	ne.PutUint32(m[hSettingsLen:], uint32(len(settings)))
	ne.PutUint32(m[hSettingsCRC:], crc32.Checksum(settings, castagnoli()))
	// The magic last: a file cut short before it is no scope file.
	copy(m[hMagic:], magic)
}

// headerOK reports whether m starts with a header of this layout.
func (m mem) headerOK() bool {
	return len(m) >= FileSize && string(m[hMagic:hMagic+8]) == magic &&
		ne.Uint32(m[hVersion:]) == layoutVersion && ne.Uint32(m[hFileSize:]) == FileSize &&
		ne.Uint32(m[hScopeSlot:]) == scopeSlotSize && ne.Uint32(m[hMetricsSlot:]) == metricsSlotSize &&
		ne.Uint32(m[hRingEntries:]) == ringEntries && ne.Uint32(m[hRingEntry:]) == ringEntrySize
}

// settings returns the settings JSON of the header, nil when damaged.
func (m mem) settings() []byte {
	n := int(ne.Uint32(m[hSettingsLen:]))
	if n == 0 || n > maxSettings {
		return nil
	}
	p := m[hSettings : hSettings+n]
	if crc32.Checksum(p, castagnoli()) != ne.Uint32(m[hSettingsCRC:]) {
		return nil
	}
	return append([]byte(nil), p...)
}

// setChecked records that the snapshot seq was still current at unix ns at.
func (m mem) setChecked(seq uint64, at int64) {
	m.storeSeq(hCheckedSeq, 0)
	atomic.StoreInt64((*int64)(unsafe.Pointer(&m[hCheckedAt])), at)
	m.storeSeq(hCheckedSeq, seq)
}

// checked returns the time recorded by setChecked for seq, 0 if none.
func (m mem) checked(seq uint64) int64 {
	if seq == 0 || ne.Uint64(m[hCheckedSeq:]) != seq {
		return 0
	}
	return int64(ne.Uint64(m[hCheckedAt:]))
}

// ringSlot is the offset of ring entry i.
func ringSlot(i uint64) int { return ringData + int(i%ringEntries)*ringEntrySize }

// addRing appends payload to the ring as entry number n (n ≥ 1, from the
// head counter). Safe for concurrent writers: each claims its own n.
func (m mem) addRing(payload []byte) bool {
	if len(payload) > ringEntrySize-slotHead {
		return false
	}
	n := atomic.AddUint64(m.word(ringOff), 1)
	return m.writeSlot(ringSlot(n-1), ringEntrySize, n, payload)
}

// ringEntriesRead returns the valid ring entries, oldest first.
func (m mem) ringEntriesRead() [][]byte {
	head := ne.Uint64(m[ringOff:])
	if head == 0 {
		return nil
	}
	type entry struct {
		n uint64
		p []byte
	}
	var es []entry
	for i := uint64(0); i < ringEntries; i++ {
		n, p := m.readSlot(ringSlot(i), ringEntrySize)
		// The entry must sit where its number puts it and be one of the
		// last ringEntries claimed.
		if n == 0 || (n-1)%ringEntries != i || n > head || head-n >= ringEntries {
			continue
		}
		es = append(es, entry{n, p})
	}
	// Insertion sort: at most ringEntries, nearly sorted.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].n < es[j-1].n; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = e.p
	}
	return out
}
