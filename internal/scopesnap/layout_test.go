package scopesnap

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// op is one store of writeSlot, as recorded. An atomic store (the seq
// word, 8-byte aligned) cannot tear: it counts as one step.
type op struct {
	off    int
	b      []byte
	atomic bool
}

type recorder struct{ ops []op }

func (r *recorder) copyAt(off int, b []byte) {
	r.ops = append(r.ops, op{off, append([]byte(nil), b...), false})
}
func (r *recorder) seqAt(off int, v uint64) {
	var b [8]byte
	ne.PutUint64(b[:], v)
	r.ops = append(r.ops, op{off, b[:], true})
}

// tornAt applies ops to a copy of m, stopping after k steps (bytes, or
// whole atomic stores): the state a crash leaves when it comes after k
// steps of the write reached memory.
func tornAt(m mem, ops []op, k int) mem {
	t := append(mem(nil), m...)
	for _, o := range ops {
		if o.atomic {
			if k == 0 {
				return t
			}
			copy(t[o.off:], o.b)
			k--
			continue
		}
		for i := range o.b {
			if k == 0 {
				return t
			}
			t[o.off+i] = o.b[i]
			k--
		}
	}
	return t
}

func opBytes(ops []op) (n int) {
	for _, o := range ops {
		if o.atomic {
			n++
		} else {
			n += len(o.b)
		}
	}
	return n
}

func scopeNamed(name string, crumbs int) *report.Scope {
	s := &report.Scope{Tags: map[string]string{"name": name}, User: &report.User{ID: name}}
	for i := range crumbs {
		s.Breadcrumbs = append(s.Breadcrumbs, report.Breadcrumb{Timestamp: time.Unix(1700000000, int64(i)).UTC(), Message: fmt.Sprint(name, i)})
	}
	return s
}

func newFile(t *testing.T) mem {
	m := make(mem, FileSize)
	js, err := json.Marshal(report.RuntimeSettings{GOMAXPROCS: 2, GOGC: 100})
	require.NoError(t, err)
	m.initHeader(js)
	return m
}

func writeScope(t *testing.T, st storer, seq uint64, s *report.Scope) {
	p := encodeScope(s, time.Unix(1700000000+int64(seq), 0), scopeSlotSize-slotHead)
	require.NotNil(t, p)
	require.True(t, writeSlot(st, scopeOff+int(seq%2)*scopeSlotSize, scopeSlotSize, seq, p))
}

func tagOf(s *report.Scope) string {
	if s == nil {
		return ""
	}
	return s.Tags["name"]
}

// TestTornScopeWriteAtEveryByte: a crash after any number of bytes of a
// snapshot's write leaves the previous snapshot readable (the other slot),
// or the new one once the write is whole; never a mixture.
func TestTornScopeWriteAtEveryByte(t *testing.T) {
	m := newFile(t)
	writeScope(t, m, 1, scopeNamed("one", 3))
	writeScope(t, m, 2, scopeNamed("two", 5))

	var rec recorder
	writeScope(t, &rec, 3, scopeNamed("three", 40))
	total := opBytes(rec.ops)
	require.Greater(t, total, 1000)
	seen := map[string]int{}
	for k := 0; k <= total; k++ {
		sc, _ := decode(tornAt(m, rec.ops, k))
		require.NotNil(t, sc, "byte %d", k)
		want, wantSeq := "two", uint64(2)
		if k == total {
			want, wantSeq = "three", 3
		}
		require.Equal(t, want, tagOf(sc), "byte %d of %d", k, total)
		require.Equal(t, wantSeq, sc.Seq, "byte %d", k)
		seen[tagOf(sc)]++
	}
	assert.Equal(t, map[string]int{"two": total, "three": 1}, seen)

	// The first snapshot torn: nothing at all, never garbage.
	m = newFile(t)
	rec = recorder{}
	writeScope(t, &rec, 1, scopeNamed("one", 10))
	total = opBytes(rec.ops)
	for k := 0; k < total; k++ {
		sc, _ := decode(tornAt(m, rec.ops, k))
		require.Nil(t, sc, "byte %d", k)
	}
	sc, _ := decode(tornAt(m, rec.ops, total))
	require.Equal(t, "one", tagOf(sc))
}

// TestDamagedSlotAtEveryByte: any byte of the newest slot changed makes
// the reader take the other slot; bytes past the payload do not matter.
func TestDamagedSlotAtEveryByte(t *testing.T) {
	m := newFile(t)
	writeScope(t, m, 1, scopeNamed("one", 3))
	writeScope(t, m, 2, scopeNamed("two", 20))
	off := scopeOff // seq 2 is in slot A
	n := int(ne.Uint32(m[off+8:]))
	for i := off; i < off+slotHead+n+64; i++ {
		d := append(mem(nil), m...)
		d[i] ^= 0x5a
		sc, _ := decode(d)
		require.NotNil(t, sc)
		if i < off+slotHead+n {
			require.Equal(t, "one", tagOf(sc), "byte %d damaged", i-off)
		} else {
			require.Equal(t, "two", tagOf(sc), "byte %d past the payload", i-off)
		}
	}
}

func TestHeaderDamageGivesNothing(t *testing.T) {
	m := newFile(t)
	writeScope(t, m, 1, scopeNamed("one", 3))
	sc, rt := decode(m)
	require.NotNil(t, sc)
	require.NotNil(t, rt)
	assert.Equal(t, 2, rt.Settings.GOMAXPROCS)
	for _, i := range []int{hMagic, hMagic + 7, hVersion, hFileSize, hScopeSlot, hRingEntries, hRingEntry} {
		d := append(mem(nil), m...)
		d[i] ^= 1
		sc, rt := decode(d)
		assert.Nil(t, sc, "header byte %d", i)
		assert.Nil(t, rt, "header byte %d", i)
	}
	// Damaged settings lose only the settings.
	d := append(mem(nil), m...)
	d[hSettings+3] ^= 1
	sc, rt = decode(d)
	assert.NotNil(t, sc)
	assert.Nil(t, rt)
	// Cut short: nothing.
	sc, rt = decode(m[:FileSize-1])
	assert.Nil(t, sc)
	assert.Nil(t, rt)
}

// TestTornRingEntryAtEveryByte: a breadcrumb torn in the ring is left
// out; the others stay, in order.
func TestTornRingEntryAtEveryByte(t *testing.T) {
	m := newFile(t)
	for i := range 3 {
		require.True(t, m.addRing([]byte(fmt.Sprintf(`{"ts":%d,"message":"c%d"}`, 1000+i, i))))
	}
	// The fourth entry's write, recorded: the head claimed first.
	var rec recorder
	ne.PutUint64(m[ringOff:], 4)
	require.True(t, writeSlot(&rec, ringSlot(3), ringEntrySize, 4, []byte(`{"ts":1003,"message":"c3"}`)))
	total := opBytes(rec.ops)
	for k := 0; k <= total; k++ {
		sc, _ := decode(tornAt(m, rec.ops, k))
		require.NotNil(t, sc)
		var msgs []string
		for _, b := range sc.Breadcrumbs {
			msgs = append(msgs, b.Message)
		}
		want := []string{"c0", "c1", "c2"}
		if k == total {
			want = append(want, "c3")
		}
		require.Equal(t, want, msgs, "byte %d", k)
		require.Equal(t, len(want), sc.RingBreadcrumbs)
	}
}

// TestRingWraps: only the last ringEntries entries are read, oldest first.
func TestRingWraps(t *testing.T) {
	m := newFile(t)
	for i := range ringEntries*2 + 5 {
		require.True(t, m.addRing([]byte(fmt.Sprintf(`{"ts":%d,"message":"%d"}`, i, i))))
	}
	es := m.ringEntriesRead()
	require.Len(t, es, ringEntries)
	assert.JSONEq(t, fmt.Sprintf(`{"ts":%d,"message":"%d"}`, ringEntries+5, ringEntries+5), string(es[0]))
	assert.JSONEq(t, fmt.Sprintf(`{"ts":%d,"message":"%d"}`, 2*ringEntries+4, 2*ringEntries+4), string(es[len(es)-1]))
}

func TestSlotTooLargeIsNotWritten(t *testing.T) {
	m := newFile(t)
	assert.False(t, m.writeSlot(scopeOff, scopeSlotSize, 1, make([]byte, scopeSlotSize)))
	assert.Equal(t, uint64(0), ne.Uint64(m[scopeOff:]))
	assert.False(t, m.addRing(make([]byte, ringEntrySize)))
}

func TestWriteSlotForms(t *testing.T) {
	a, b := newFile(t), newFile(t)
	p := []byte(`{"ts":1,"message":"same"}`)
	require.True(t, a.writeSlot(scopeOff, scopeSlotSize, 7, p))
	require.True(t, writeSlot(b, scopeOff, scopeSlotSize, 7, p))
	assert.Equal(t, a, b)
	assert.False(t, writeSlot(b, scopeOff, scopeSlotSize, 0, p), "seq 0 is never written")
	assert.False(t, a.writeSlot(scopeOff, scopeSlotSize, 0, p))
}
