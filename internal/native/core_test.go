//go:build cgo && (linux || darwin)

package native

import (
	"path/filepath"
	"reflect"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// The C structs must be byte-for-byte the layout flightrec decodes.
func TestCLayoutMatchesGo(t *testing.T) {
	goFields := map[string]flightrec.Field{}
	for _, f := range flightrec.Layout() {
		goFields[f.Name] = f
	}
	cFields := cLayout()
	require.Len(t, cFields, len(goFields), "C and Go list different fields")
	for _, c := range cFields {
		g, ok := goFields[c.Name]
		if assert.True(t, ok, "C field %s unknown to flightrec", c.Name) {
			assert.Equal(t, g, c, c.Name)
		}
	}
}

func TestGoTextExcludesC(t *testing.T) {
	lo, hi := goText()
	c := cFunctionPC()
	assert.False(t, c >= lo && c < hi, "C function %#x inside Go text [%#x, %#x)", c, lo, hi)
	sentinel := reflect.ValueOf(flightrec.Sentinel).Pointer()
	assert.True(t, sentinel >= lo && sentinel < hi, "Go function %#x outside Go text [%#x, %#x)", sentinel, lo, hi)
}

func TestKnownFatal(t *testing.T) {
	const (
		segvMapErr = 1
		siUser     = 0
		siTkill    = -6
	)
	if runtime.GOOS != "linux" {
		t.Skip("si_code values are Linux's")
	}
	cases := []struct {
		name                       string
		sig                        syscall.Signal
		code                       int
		self, goCode, armed, fatal bool
	}{
		{"C fault", syscall.SIGSEGV, segvMapErr, false, false, true, true},
		{"Go fault may be recovered", syscall.SIGSEGV, segvMapErr, false, true, true, false},
		{"not armed (handler not Go's / library)", syscall.SIGSEGV, segvMapErr, false, false, false, false},
		{"sent SIGSEGV", syscall.SIGSEGV, siUser, false, false, true, false},
		{"SIGBUS", syscall.SIGBUS, 2, false, false, true, true},
		{"SIGFPE", syscall.SIGFPE, 1, false, false, true, true},
		{"SIGILL", syscall.SIGILL, 2, false, false, true, true},
		{"SIGTRAP", syscall.SIGTRAP, 1, false, false, true, true},
		{"SIGTRAP SI_KERNEL", syscall.SIGTRAP, 0x80, false, false, true, true},
		{"seccomp SIGSYS", syscall.SIGSYS, 1, false, false, true, false},
		{"abort()", syscall.SIGABRT, siTkill, true, false, true, true},
		{"SIGABRT from elsewhere", syscall.SIGABRT, siUser, false, false, true, false},
		{"abort() in Go code", syscall.SIGABRT, siTkill, true, true, true, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.fatal, knownFatal(c.sig, c.code, c.self, c.goCode, c.armed), c.name)
	}
}

func TestSafeRead(t *testing.T) {
	m := newCMemory(4)
	defer m.Free()
	m.Set(1, 0x1122334455667788)
	b, ok := safeRead(m.Addr(1), 8)
	require.True(t, ok)
	assert.Equal(t, []byte{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, b)
	_, ok = safeRead(16, 8)
	assert.False(t, ok, "a read of an unmapped address fails instead of faulting")
}

// fakeStack lays out a frame-pointer chain: frame i at word 4*i+2 holds
// (next fp, return address 0x1000+i).
func fakeStack(t *testing.T, frames int) *cMemory { return fakeStackAt(t, frames, 0x1000) }

// fakeStackAt is fakeStack with return addresses ret+i.
func fakeStackAt(t *testing.T, frames int, ret uint64) *cMemory {
	m := newCMemory(4*frames + 8)
	t.Cleanup(m.Free)
	for i := 0; i < frames; i++ {
		at := 4*i + 2
		next := uint64(0)
		if i+1 < frames {
			next = m.Addr(4*(i+1) + 2)
		}
		m.Set(at, next)
		m.Set(at+1, ret+uint64(i))
	}
	return m
}

func TestUnwindChain(t *testing.T) {
	m := fakeStack(t, 5)
	frames, truncated := unwind(0xabc, m.Addr(0), m.Addr(2), 0, flightrec.MaxFrames)
	assert.False(t, truncated)
	// The last frame's next fp is 0, so its return address is still taken
	// and the walk stops after it.
	assert.Equal(t, []uint64{0xabc, 0x1000, 0x1001, 0x1002, 0x1003, 0x1004}, frames)

	frames, truncated = unwind(0xabc, m.Addr(0), m.Addr(2), 0, 3)
	assert.True(t, truncated)
	assert.Equal(t, []uint64{0xabc, 0x1000, 0x1001}, frames)
}

func TestUnwindStops(t *testing.T) {
	m := fakeStack(t, 5)
	// fp going back down: stop after that frame.
	m.Set(4*1+2, m.Addr(2))
	frames, _ := unwind(0xabc, m.Addr(0), m.Addr(2), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, 0x1000, 0x1001}, frames)

	// fp below sp: not this stack.
	frames, _ = unwind(0xabc, m.Addr(3), m.Addr(2), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc}, frames)

	// Misaligned fp.
	frames, _ = unwind(0xabc, m.Addr(0), m.Addr(2)+3, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc}, frames)

	// fp pointing at unmapped memory (sp chosen below it so the bound
	// check passes): the read fails, the walk ends, nothing faults.
	frames, _ = unwind(0xabc, 0x1000, 0x2000, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc}, frames)

	// A zero return address ends the walk.
	m.Set(4*1+2, m.Addr(4*2+2))
	m.Set(4*1+3, 0)
	frames, _ = unwind(0xabc, m.Addr(0), m.Addr(2), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, 0x1000}, frames)
}

func TestUnwindLR(t *testing.T) {
	m := fakeStack(t, 3)
	// lr differs from the first saved return address: a leaf, lr is the caller.
	frames, _ := unwind(0xabc, m.Addr(0), m.Addr(2), 0x777, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, 0x777, 0x1000, 0x1001, 0x1002}, frames)
	// lr equals it: the function saved lr already, no duplicate.
	frames, _ = unwind(0xabc, m.Addr(0), m.Addr(2), 0x1000, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, 0x1000, 0x1001, 0x1002}, frames)
}

// The handler's walk (validated): a chain of non-code "return addresses"
// is dropped, and a stack scan finds return addresses that follow a call.
func TestUnwindValidatedAndScan(t *testing.T) {
	if !installedForTest() {
		install(t, Options{}) // records the code ranges
	}
	require.Equal(t, 1, codeAddr(uint64(cFunctionPC())))
	require.Equal(t, 0, codeAddr(0x1000))

	garbage := fakeStack(t, 4)
	frames, flags := unwindValidated(0xabc, garbage.Addr(0), garbage.Addr(2), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc}, frames, "no garbage frames")
	assert.False(t, flags.Has(flightrec.FlagFramesScanned))

	// A real return address (after a call), found by the walk from this very
	// function's frame, put on a stack that has no frame chain.
	here := unwindHere()
	require.GreaterOrEqual(t, len(here), 2)
	realRet := here[1]
	m := newCMemory(64)
	defer m.Free()
	m.Set(3, 0xdeadbeef) // not code
	m.Set(7, realRet)
	m.Set(9, uint64(cFunctionPC())) // code, but not after a call
	frames, flags = unwindValidated(0xabc, m.Addr(0), 0, 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, realRet}, frames)
	assert.True(t, flags.Has(flightrec.FlagFramesScanned))

	// A good chain is not followed by a scan.
	ret := uint64(cFunctionPC())
	good := fakeStackAt(t, 2, ret)
	frames, flags = unwindValidated(0xabc, good.Addr(0), good.Addr(2), 0, flightrec.MaxFrames)
	assert.Equal(t, []uint64{0xabc, ret, ret + 1}, frames)
	assert.Zero(t, flags)
}

func TestUnwindHere(t *testing.T) {
	frames := unwindHere()
	require.NotEmpty(t, frames)
	assert.Equal(t, uint64(cFunctionPC()), frames[0])
	// The function keeps a frame (it takes its own frame address), so its
	// caller's return address follows.
	assert.GreaterOrEqual(t, len(frames), 2)
}

func newRecorder(t *testing.T, records int) string {
	path := filepath.Join(t.TempDir(), "flight.bin")
	require.NoError(t, flightrec.CreateWith(path, flightrec.Config{Records: records, ImageCapacity: 4}))
	return path
}

func attach(t *testing.T, path string) {
	t.Helper()
	if installedForTest() {
		t.Skip("a signal chain is installed in this process; the recorder is taken")
	}
	require.NoError(t, attachRecorder(path, 0x1000, 0x2000))
	t.Cleanup(func() { require.NoError(t, detachRecorder()) })
}

// Cheap records of faults in Go code are overwritten first; fatal and
// native ones survive a flood of them while another slot is available.
func TestClaimKeepsPreciousRecords(t *testing.T) {
	path := newRecorder(t, 4)
	attach(t, path)
	cheap := flightrec.FlagGoCode | flightrec.FlagGoThread | flightrec.FlagFromSignal
	fatal := flightrec.FlagFatal | flightrec.FlagFromSignal
	native := flightrec.FlagFromSignal | flightrec.FlagGoThread

	fatalSeq := writeTestRecord(fatal, true)
	nativeSeq := writeTestRecord(native, true)
	for i := 0; i < 100; i++ {
		require.Positive(t, writeTestRecord(cheap, true))
	}
	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	seqs := map[uint64]flightrec.Flags{}
	for _, r := range f.Records {
		seqs[r.Seq] = r.Flags
		assert.False(t, r.Incomplete)
	}
	assert.Equal(t, fatal, seqs[uint64(fatalSeq)], "fatal record kept")
	assert.Equal(t, native, seqs[uint64(nativeSeq)], "native record kept")
	assert.Len(t, f.Records, 4)

	// When every slot is precious, the oldest goes.
	for i := 0; i < 4; i++ {
		require.Positive(t, writeTestRecord(fatal, true))
	}
	f, err = flightrec.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, f.Fatal(), 4)
	for _, r := range f.Records {
		assert.NotEqual(t, uint64(fatalSeq), r.Seq, "oldest fatal record overwritten when all are precious")
	}
}

// A writer that dies mid-record leaves it torn (state 1); the next writers
// skip it and the decoder reports it as incomplete.
func TestTornRecordSkipped(t *testing.T) {
	path := newRecorder(t, 2)
	attach(t, path)
	torn := writeTestRecord(flightrec.FlagFromSignal, false)
	require.Positive(t, torn)
	for i := 0; i < 5; i++ {
		require.Positive(t, writeTestRecord(flightrec.FlagGoCode, true))
	}
	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	var found bool
	for _, r := range f.Records {
		if r.Seq == uint64(torn) {
			found = true
			assert.True(t, r.Incomplete)
		}
	}
	assert.True(t, found, "torn record never overwritten")
}

// The darwin contract, exercised on any OS: the Mach thread records first,
// then the signal for the same thread completes that record.
func TestMachRecordAndSignalMerge(t *testing.T) {
	path := newRecorder(t, 8)
	attach(t, path)
	// Return addresses in real code: the walk checks them against the code
	// ranges once an Install has recorded those.
	ret := uint64(cFunctionPC())
	stack := fakeStackAt(t, 3, ret)
	regs := make([]uint64, 34)
	for i := range regs {
		regs[i] = uint64(i) + 100
	}
	tid := threadID()
	// pc outside the (fake) Go text [0x1000, 0x2000): native, walked.
	require.Equal(t, 0, recordMach(tid, 1, 1, 0xbad0, regs, 0x3500, stack.Addr(0), stack.Addr(2), 0))
	// pc in Go text: the cheap path, no walk even with a frame chain.
	require.Equal(t, 0, recordMach(tid+1, 1, 2, 0xbad8, nil, 0x1900, stack.Addr(0), stack.Addr(2), 0))

	now := nowNS()
	assert.False(t, mergeSignal(tid+2, now, 11, 1, 0xbad0, flightrec.FlagFromSignal), "no record for that thread")
	assert.False(t, mergeSignal(tid, now+10e9, 11, 1, 0xbad0, flightrec.FlagFromSignal), "too old")
	require.True(t, mergeSignal(tid, now, 11, 1, 0xbad0, flightrec.FlagFromSignal|flightrec.FlagFatal|flightrec.FlagGoCode))
	assert.False(t, mergeSignal(tid, now, 11, 1, 0xbad0, flightrec.FlagFromSignal), "a record takes one signal")

	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, f.Records, 2)
	r := f.Records[0]
	assert.False(t, r.Incomplete)
	assert.Equal(t, tid, r.ThreadID)
	assert.Equal(t, flightrec.FlagFromMach|flightrec.FlagFromSignal|flightrec.FlagFatal, r.Flags,
		"go_code comes from the Mach record's pc, not from the signal")
	assert.Equal(t, 11, r.Signal)
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, 1, r.MachException)
	assert.Equal(t, int64(1), r.MachCode)
	assert.Equal(t, int64(0xbad0), r.MachSubcode)
	assert.Equal(t, uint64(0xbad0), r.Addr)
	assert.Equal(t, regs, r.Registers)
	assert.Equal(t, []uint64{0x3500, ret, ret + 1, ret + 2}, r.Frames)

	r2 := f.Records[1]
	assert.Equal(t, flightrec.FlagFromMach|flightrec.FlagGoCode, r2.Flags)
	assert.Equal(t, 0, r2.Signal)
	assert.Empty(t, r2.Registers)
	assert.Equal(t, []uint64{0x1900}, r2.Frames)
}

func TestMachRecordWithoutRecorder(t *testing.T) {
	if installedForTest() {
		t.Skip("a recorder is attached")
	}
	assert.Equal(t, -1, recordMach(1, 1, 1, 0, nil, 0, 0, 0, 0))
}
