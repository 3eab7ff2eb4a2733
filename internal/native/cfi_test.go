//go:build cgo && linux

package native

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// cfiCode returns the test code of nativetest/cfi_code.c, with the native
// layer installed so that the walk knows the images (their .eh_frame_hdr)
// and the code ranges, as in the handler.
func cfiCode(t testing.TB) cfiTestCode {
	t.Helper()
	code, ok := cfiTestAddrs()
	if !ok {
		t.Skip("the CFI test code is x86-64 only")
	}
	if !installedForTest() {
		install(t, Options{})
	}
	return code
}

// abortStack lays out, in C memory, the stack of the c-abort-gothread
// crash as it was recorded on x86-64 glibc 2.36 (abort() called from C on a
// cgo call's system stack, m0's g0 = the main thread's stack): the
// no-frame-pointer leaf (pthread_kill) and its caller (abort) keep stale
// return addresses in their uninitialised locals, the leaf uses rbp for
// data, and only the CFI knows where the return addresses and the caller's
// saved rbp are. Word indexes from sp:
//
//	 0..8   leaf locals          [2], [5]: stale return addresses
//	 9      leaf: saved rbx
//	10      leaf: saved rbp      = outer's frame pointer (mid did not touch it)
//	11      return into mid
//	12..31  mid locals           [14], [20]: stale
//	32      mid: saved rbp       = outer's frame pointer
//	33      return into outer
//	34      outer's frame record: saved rbp (nocfi's frame), return into nocfi
//	36      nocfi's frame record: saved rbp (base's frame), return into base
//	38      base's frame record: 0, 0 (the end)
func abortStack(t testing.TB, c cfiTestCode) *cMemory {
	m := newCMemory(48)
	t.Cleanup(m.Free)
	m.Set(2, c.StaleRet1)
	m.Set(5, c.StaleRet2)
	m.Set(9, 0x1111)
	m.Set(10, m.Addr(34))
	m.Set(11, c.MidRet)
	m.Set(14, c.StaleRet1)
	m.Set(20, c.StaleRet2)
	m.Set(32, m.Addr(34))
	m.Set(33, c.OuterRet)
	m.Set(34, m.Addr(36))
	m.Set(35, c.NocfiRet)
	m.Set(36, m.Addr(38))
	m.Set(37, c.BaseRet)
	return m
}

// The walk of the recorded c-abort-gothread stack: CFI through the frames
// without frame pointers, then the frame-pointer chain from the frame
// pointer CFI restored, into code that has no CFI. Never a stale return
// address, never a scan. Before CFI the chain gave nothing (rbp is data)
// and the scan took the stale addresses for callers.
func TestUnwindCFIRecordedAbortStack(t *testing.T) {
	c := cfiCode(t)
	m := abortStack(t, c)
	const pthreadPtr = 0x7fc5e9f74740 // what rbp held at the fault: data
	frames, flags := unwindValidated(c.LeafPC, m.Addr(0), pthreadPtr, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC, c.MidRet, c.OuterRet, c.NocfiRet, c.BaseRet}, frames)
	assert.NotContains(t, frames, c.StaleRet1)
	assert.NotContains(t, frames, c.StaleRet2)
	assert.False(t, flags.Has(flightrec.FlagFramesScanned), flags.String())

	// A frame limit cuts the CFI part as it does the chain.
	frames, flags = unwindValidated(c.LeafPC, m.Addr(0), pthreadPtr, 0, 3)
	assert.Equal(t, []uint64{c.LeafPC, c.MidRet, c.OuterRet}, frames)
	assert.True(t, flags.Has(flightrec.FlagFramesTruncated), flags.String())

	// Without validation (fake stacks in the frame-pointer tests) there is
	// no CFI either: the chain from rbp alone, which is data here.
	frames, _ = unwind(c.LeafPC, m.Addr(0), pthreadPtr, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC}, frames)
}

// A fault at a function's first instruction: the CIE's initial rule (the
// return address at sp), not the body's.
func TestUnwindCFIPrologue(t *testing.T) {
	c := cfiCode(t)
	m := abortStack(t, c)
	frames, flags := unwindValidated(c.Leaf, m.Addr(11), m.Addr(34), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.Leaf, c.MidRet, c.OuterRet, c.NocfiRet, c.BaseRet}, frames)
	assert.Zero(t, flags)
}

// The outermost frame (return address undefined, as in _start and
// clone): the walk ends there, with no scan of what lies above.
func TestUnwindCFIOutermost(t *testing.T) {
	c := cfiCode(t)
	m := abortStack(t, c)
	frames, flags := unwindValidated(c.StartPC, m.Addr(0), 0, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.StartPC}, frames)
	assert.Zero(t, flags)
}

// A stack CFI cannot follow (the saved return address unreadable) falls
// back to what there was before: no frames from CFI, the chain, the scan.
func TestUnwindCFIUnreadableStack(t *testing.T) {
	c := cfiCode(t)
	// sp such that the leaf's CFA (sp + 0x60) is unmapped: the first page.
	frames, _ := unwindValidated(c.LeafPC, 0x10, 0, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC}, frames)
}

// End to end: abort() from C on a Go thread (the cgo call runs on the
// system stack, where the runtime left return addresses of its own). Every
// frame before cgc_abort is in libc, not a stale runtime address, cgc_abort
// is followed by its caller, and nothing was scanned.
func TestAbortOnGoThreadFramesAreExact(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("glibc is built without frame pointers on x86-64; the CFI test code is x86-64 only")
	}
	t.Parallel()
	with := run(t, "c-abort-gothread", true)
	require.Equal(t, "exit 2", with.status, with.stderr)
	f := decode(t, with)
	require.Len(t, f.Records, 1)
	r := f.Records[0]
	require.Equal(t, int(syscall.SIGABRT), r.Signal)
	assert.False(t, r.Flags.Has(flightrec.FlagFramesScanned), "no stack scan: %s", r.Flags)
	var exe flightrec.Image
	for _, im := range f.Images {
		if im.IsMain() {
			exe = im
		}
	}
	require.NotZero(t, exe.Size)
	syms := cSymbols(t, with)
	at := -1
	for i, pc := range r.Frames {
		if i > 0 {
			pc--
		}
		if syms.in("cgc_abort", pc) {
			at = i
			break
		}
		assert.False(t, pc >= exe.Base && pc < exe.Base+exe.Size,
			"frame %d (%#x) before cgc_abort is in the executable: a stale return address; frames %x", i, r.Frames[i], r.Frames)
	}
	require.Positive(t, at, "cgc_abort among the frames %x (%x)", r.Frames, syms["cgc_abort"])
	require.Greater(t, len(r.Frames), at+1, "cgc_abort's caller follows it")
	t.Logf("frames %x, cgc_abort at %d, handler %v", r.Frames, at, r.HandlerDuration)
}

// Code with neither CFI nor frame pointers (musl is built without unwind
// tables): the scan, with its checks against stale return addresses. A
// return address after a call into libc (through the PLT) cannot be the
// caller of a frame in the executable; the scan ends at the first frame
// record and the chain from it gives the rest, so the stale address above
// it is never looked at. Word indexes from sp:
//
//	 0      stale: after a call to getpid@PLT (into libc)
//	 3      return into mid
//	 5..6   a lone pair (a pointer above, then the stale address): one
//	        link, not a frame record
//	 8      frame record: next 12, return into nocfi
//	12      frame record: next 14, return into base
//	14      0, 0
//	16      stale, above the frame record
func TestUnwindScanRejectsStale(t *testing.T) {
	c := cfiCode(t)
	m := newCMemory(24)
	t.Cleanup(m.Free)
	m.Set(0, c.ScanPltRet)
	m.Set(1, 0x1234)
	m.Set(3, c.ScanMidRet)
	m.Set(5, m.Addr(9))
	m.Set(6, c.ScanPltRet)
	m.Set(8, m.Addr(12))
	m.Set(9, c.NocfiRet)
	m.Set(12, m.Addr(14))
	m.Set(13, c.BaseRet)
	m.Set(16, c.StaleRet1)
	frames, flags := unwindValidated(c.ScanLeafPC, m.Addr(0), 0x99, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.ScanLeafPC, c.ScanMidRet, c.NocfiRet, c.BaseRet}, frames)
	assert.True(t, flags.Has(flightrec.FlagFramesScanned), flags.String())
}

// What a walk costs in the handler: the recorded abort stack through CFI
// (image lookup, .eh_frame_hdr binary search, FDE and CIE reads, each a
// process_vm_readv), and the scan over code without CFI.
func BenchmarkUnwindCFIAbortStack(b *testing.B) {
	c := cfiCode(b)
	m := abortStack(b, c)
	for i := 0; i < b.N; i++ {
		unwindValidated(c.LeafPC, m.Addr(0), 0x7fc5e9f74740, 0, flightrec.MaxFrames)
	}
}

func BenchmarkUnwindScan(b *testing.B) {
	c := cfiCode(b)
	m := newCMemory(24)
	b.Cleanup(m.Free)
	m.Set(0, c.ScanPltRet)
	m.Set(3, c.ScanMidRet)
	m.Set(8, m.Addr(12))
	m.Set(9, c.NocfiRet)
	m.Set(12, m.Addr(14))
	m.Set(13, c.BaseRet)
	for i := 0; i < b.N; i++ {
		unwindValidated(c.ScanLeafPC, m.Addr(0), 0x99, 0, flightrec.MaxFrames)
	}
}

// arm64's lr against the faulting function's extent in its FDE (the logic
// is the same on every architecture; x86-64 has the test code). The fake
// stack's frame record names the caller (OuterRet).
func TestUnwindLRInFaultingFunction(t *testing.T) {
	c := cfiCode(t)
	m := newCMemory(8)
	t.Cleanup(m.Free)
	m.Set(2, m.Addr(4))
	m.Set(3, c.OuterRet)
	m.Set(4, 0)
	m.Set(5, c.BaseRet)

	// The function has made a call (lr is its return site, in the function
	// itself) and faults later: lr is not a frame; the record names the
	// caller. Before, this read stale, stale, outer.
	frames, _ := unwind(c.StaleRet2, m.Addr(0), m.Addr(2), c.StaleRet1, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.StaleRet2, c.OuterRet, c.BaseRet}, frames)

	// A leaf that has not saved lr: lr (in another function) is the caller,
	// then the record's return addresses.
	frames, _ = unwind(c.LeafPC, m.Addr(0), m.Addr(2), c.MidRet, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC, c.MidRet, c.OuterRet, c.BaseRet}, frames)

	// A function that saved lr and has not called yet: lr and the record's
	// return address are the same caller, taken once.
	frames, _ = unwind(c.LeafPC, m.Addr(0), m.Addr(2), c.OuterRet, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC, c.OuterRet, c.BaseRet}, frames)

	// lr at the faulting function's first byte (a call to a noreturn
	// function, last in the function before it) is that caller: the call
	// instruction, before lr, decides.
	frames, _ = unwind(c.LeafPC, m.Addr(0), m.Addr(2), c.Leaf, flightrec.MaxFrames)
	assert.Equal(t, []uint64{c.LeafPC, c.Leaf, c.OuterRet, c.BaseRet}, frames)
}
