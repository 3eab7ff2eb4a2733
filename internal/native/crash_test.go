//go:build cgo && linux

package native

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/native/nativetest"
)

// Every crashing child gets this long; a hang fails the test.
const childTimeout = 60 * time.Second

// outcome is how a child ended: "exit N" or "signal NAME".
type outcome struct {
	status   string
	stderr   string
	recorder string
	pid      int
	funcs    map[string]uint64 // C function runtime addresses printed by the child
}

func statusOf(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "error " + err.Error()
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}

func runChildCmd(t *testing.T, cmd *exec.Cmd) (string, string) {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("could not run %v: %v", cmd.Args, err)
	}
	return statusOf(err), stderr.String()
}

func run(t *testing.T, mode string, install bool, extra ...string) outcome {
	t.Helper()
	dir := t.TempDir()
	o := outcome{recorder: filepath.Join(dir, "flight.bin"), funcs: map[string]uint64{}}
	args := []string{"-mode", mode, "-tmp", dir}
	if install {
		args = append(args, "-install", "-recorder", o.recorder)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cgocrash(t), args...)
	o.status, o.stderr = runChildCmd(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("%s hung (killed after %v)\n%s", mode, childTimeout, o.stderr)
	}
	o.pid = cmd.ProcessState.Pid()
	sc := bufio.NewScanner(strings.NewReader(o.stderr))
	for sc.Scan() {
		var name string
		var addr uint64
		if n, _ := fmt.Sscanf(sc.Text(), "cgocrash: func %s %v", &name, &addr); n == 2 {
			o.funcs[name] = addr
		}
	}
	return o
}

// symbols maps C function names to [start, end) runtime ranges, from the
// test program's ELF symbol table and the addresses it printed.
type symbols map[string][2]uint64

func cSymbols(t *testing.T, o outcome) symbols {
	t.Helper()
	ef, err := elf.Open(cgocrash(t))
	require.NoError(t, err)
	defer ef.Close()
	syms, err := ef.Symbols()
	require.NoError(t, err)
	out := symbols{}
	for _, s := range syms {
		rt, ok := o.funcs[s.Name]
		if !ok || elf.ST_TYPE(s.Info) != elf.STT_FUNC {
			continue
		}
		slide := rt - s.Value
		out[s.Name] = [2]uint64{s.Value + slide, s.Value + slide + s.Size}
	}
	return out
}

func (s symbols) in(name string, pc uint64) bool {
	r, ok := s[name]
	return ok && pc >= r[0] && pc < r[1]
}

// frameIn reports whether one of the first n frames is in function name.
// Return addresses point after the call, so for frames[1:] pc-1 is tested.
func (s symbols) frameIn(name string, frames []uint64, n int) bool {
	for i, f := range frames {
		if i >= n {
			break
		}
		if i > 0 {
			f--
		}
		if s.in(name, f) {
			return true
		}
	}
	return false
}

// repeated returns the known functions that two adjacent frames are both in
// (return addresses tested at pc-1, as in frameIn).
func (s symbols) repeated(frames []uint64) []string {
	var out []string
	fn := func(i int) string {
		pc := frames[i]
		if i > 0 {
			pc--
		}
		for name := range s {
			if s.in(name, pc) {
				return name
			}
		}
		return ""
	}
	for i := 1; i < len(frames); i++ {
		if a := fn(i); a != "" && a == fn(i-1) {
			out = append(out, a)
		}
	}
	return out
}

func decode(t *testing.T, o outcome) *flightrec.File {
	t.Helper()
	f, err := flightrec.ReadFile(o.recorder)
	require.NoError(t, err, o.stderr)
	assert.Equal(t, o.pid, f.Header.PID)
	return f
}

func complete(f *flightrec.File) []flightrec.Record {
	var out []flightrec.Record
	for _, r := range f.Records {
		if !r.Incomplete {
			out = append(out, r)
		}
	}
	return out
}

// checkRegisters: every register present, and pc/sp agree with the record.
func checkRegisters(t *testing.T, f *flightrec.File, r *flightrec.Record) {
	t.Helper()
	names := flightrec.RegisterNames(f.Header.Arch)
	require.Len(t, r.Registers, len(names))
	regs := f.RegisterMap(r)
	assert.Equal(t, r.PC, regs[flightrec.PCRegister(f.Header.Arch)], "pc register")
	assert.Equal(t, r.SP, regs[flightrec.SPRegister(f.Header.Arch)], "sp register")
	require.NotEmpty(t, r.Frames)
	assert.Equal(t, r.PC, r.Frames[0])
}

type crashCase struct {
	mode     string
	sig      syscall.Signal
	code     int    // expected si_code
	addr     uint64 // expected si_addr; 0 = check separately
	goThread bool
	// fn must contain one of the first frames; caller, if set, too.
	fn, caller string
	// exact: the first frames are exactly fn, then caller (no function
	// twice: arm64's lr is not a frame once the function has called).
	exact     bool
	amd64Only bool
}

var fatalCases = []crashCase{
	{mode: "c-null-gothread", sig: syscall.SIGSEGV, code: 1, addr: 0x28, goThread: true, fn: "cgc_fault_inner", caller: "cgc_fault_outer", exact: true},
	{mode: "c-null-pthread", sig: syscall.SIGSEGV, code: 1, addr: 0x38, goThread: false, fn: "cgc_fault_inner", caller: "cgc_fault_outer", exact: true},
	{mode: "c-abort-gothread", sig: syscall.SIGABRT, code: -6, goThread: true, caller: "cgc_abort"},
	{mode: "c-abort-pthread", sig: syscall.SIGABRT, code: -6, goThread: false, caller: "cgc_abort"},
	{mode: "c-fpe-gothread", sig: syscall.SIGFPE, code: 1, goThread: true, fn: "cgc_fpe", amd64Only: true},
	{mode: "c-trap-gothread", sig: syscall.SIGILL, code: 2, goThread: true, fn: "cgc_trap", amd64Only: true},
	{mode: "c-bus-gothread", sig: syscall.SIGBUS, code: 2, goThread: true, fn: "cgc_bus"},
}

// Each fatal mode exits exactly as it does without the native layer, and
// leaves exactly one complete, fatal record describing the fault.
func TestFatalCrashes(t *testing.T) {
	for _, c := range fatalCases {
		t.Run(c.mode, func(t *testing.T) {
			if c.amd64Only && runtime.GOARCH != "amd64" {
				t.Skip("amd64 only")
			}
			t.Parallel()
			plain := run(t, c.mode, false)
			with := run(t, c.mode, true)
			require.Equal(t, plain.status, with.status, "exit status changed by the chain\nwithout:\n%s\nwith:\n%s", plain.stderr, with.stderr)
			if c.goThread {
				assert.Equal(t, "exit 2", with.status, "Go reports faults on its threads and exits 2")
			} else {
				assert.Equal(t, "signal "+c.sig.String(), with.status)
			}

			f := decode(t, with)
			require.Len(t, f.Records, 1, "records: %+v", f.Records)
			r := f.Records[0]
			assert.False(t, r.Incomplete)
			assert.True(t, r.Flags.Has(flightrec.FlagFatal|flightrec.FlagFromSignal), r.Flags.String())
			assert.Equal(t, c.goThread, r.Flags.Has(flightrec.FlagGoThread), r.Flags.String())
			assert.False(t, r.Flags.Has(flightrec.FlagGoCode), r.Flags.String())
			assert.False(t, r.Flags.Has(flightrec.FlagSuppressedExit))
			assert.Equal(t, int(c.sig), r.Signal)
			assert.Equal(t, c.code, r.Code, "si_code %s", flightrec.CodeName(f.Header.OS, r.Signal, r.Code))
			switch {
			case c.addr != 0:
				assert.Equal(t, c.addr, r.Addr)
			case c.sig == syscall.SIGFPE || c.sig == syscall.SIGILL:
				assert.Equal(t, r.PC, r.Addr, "si_addr is the faulting instruction")
			case c.sig == syscall.SIGBUS:
				assert.Zero(t, r.Addr%uint64(os.Getpagesize()), "the page past EOF")
				assert.NotZero(t, r.Addr)
			case c.sig == syscall.SIGABRT:
				assert.True(t, r.Flags.Has(flightrec.FlagFromUser))
				assert.Equal(t, with.pid, r.SenderPID, "abort() is raised by the process itself")
			}
			checkRegisters(t, f, &r)
			assert.NotZero(t, r.ThreadID)
			if !c.goThread {
				assert.NotEqual(t, uint64(with.pid), r.ThreadID, "the C thread, not the main thread")
			}
			syms := cSymbols(t, with)
			if c.fn != "" {
				assert.True(t, syms.in(c.fn, r.PC), "pc %#x not in %s %x", r.PC, c.fn, syms[c.fn])
			}
			if c.caller != "" {
				assert.True(t, syms.frameIn(c.caller, r.Frames, 8), "%s not among the top frames %x (%x)", c.caller, r.Frames, syms[c.caller])
			}
			if c.exact {
				require.GreaterOrEqual(t, len(r.Frames), 2)
				assert.True(t, syms.in(c.fn, r.Frames[0]), "frame 0 %#x not in %s %x", r.Frames[0], c.fn, syms[c.fn])
				assert.True(t, syms.in(c.caller, r.Frames[1]-1), "frame 1 %#x not in %s %x (frames %x)", r.Frames[1], c.caller, syms[c.caller], r.Frames)
			}
			assert.Empty(t, syms.repeated(r.Frames), "a function twice in a row: frames %x", r.Frames)
			assert.Positive(t, r.HandlerDuration)
			t.Logf("%s: %s, record %s frames=%x handler=%v", c.mode, with.status, r.Flags, r.Frames, r.HandlerDuration)
		})
	}
}

// 32 C threads faulting together: the process dies as it would without the
// chain (the first fault wins), nothing hangs, and every complete record is
// a fatal fault of one of those threads.
func TestSimultaneousFaults(t *testing.T) {
	plain := run(t, "c-32threads", false)
	with := run(t, "c-32threads", true)
	require.Equal(t, plain.status, with.status)
	assert.Equal(t, "signal segmentation fault", with.status)
	f := decode(t, with)
	done := complete(f)
	require.NotEmpty(t, done, "at least the fault that killed the process is recorded")
	tids := map[uint64]bool{}
	for _, r := range done {
		assert.True(t, r.Flags.Has(flightrec.FlagFatal), r.Flags.String())
		assert.False(t, r.Flags.Has(flightrec.FlagGoThread))
		assert.Equal(t, int(syscall.SIGSEGV), r.Signal)
		assert.Equal(t, uint64(0x48), r.Addr)
		assert.False(t, tids[r.ThreadID], "one record per thread")
		tids[r.ThreadID] = true
	}
	t.Logf("%d complete, %d torn records of 32 faulting threads", len(done), len(f.Records)-len(done))
}

func TestNonFatalModes(t *testing.T) {
	for _, mode := range []string{"go-nil-recovered", "go-panic-on-fault", "notify-abrt", "pprof", "exit0", "fork-child-fault"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			plain := run(t, mode, false)
			with := run(t, mode, true)
			require.Equal(t, "exit 0", plain.status, plain.stderr)
			require.Equal(t, "exit 0", with.status, with.stderr)
			f := decode(t, with)
			assert.Empty(t, f.Fatal(), "no fatal record without a crash")
			for _, r := range f.Records {
				assert.False(t, r.Incomplete)
			}
			switch mode {
			case "go-nil-recovered":
				assert.Len(t, f.Records, f.Header.RecordCount, "the ring wrapped")
				assert.GreaterOrEqual(t, f.Header.NextSeq, uint64(10000))
			case "fork-child-fault":
				// The child shares the recorder file but must never write it.
				assert.Empty(t, f.Records)
				assert.Equal(t, plain.stderr[strings.Index(plain.stderr, "cgocrash: child"):],
					with.stderr[strings.Index(with.stderr, "cgocrash: child"):], "the child ends the same way")
			}
		})
	}
}

// An unrecovered nil dereference in Go: Go's panic, exit 2, and a cheap
// record that is not marked fatal (Go code faults are decided after death).
func TestGoNilPanic(t *testing.T) {
	plain := run(t, "go-nil-panic", false)
	with := run(t, "go-nil-panic", true)
	require.Equal(t, plain.status, with.status)
	assert.Equal(t, "exit 2", with.status)
	assert.Contains(t, with.stderr, "nil pointer dereference")
	f := decode(t, with)
	require.Len(t, f.Records, 1)
	r := f.Records[0]
	assert.Equal(t, flightrec.FlagGoCode|flightrec.FlagGoThread|flightrec.FlagFromSignal, r.Flags)
	checkRegisters(t, f, &r)
}

func TestSuppression(t *testing.T) {
	cases := []struct {
		mode       string
		status     string
		suppressed bool
	}{
		{"c-null-pthread", "exit 139", true},
		{"c-abort-pthread", "exit 134", true},
		// Go threads: Go exits 2 by itself (no dump); left alone.
		{"c-null-gothread", "exit 2", false},
		{"go-nil-recovered", "exit 0", false},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			o := run(t, c.mode, true, "-suppress", "1")
			assert.Equal(t, c.status, o.status, o.stderr)
			f := decode(t, o)
			if !c.suppressed {
				for _, r := range f.Records {
					assert.False(t, r.Flags.Has(flightrec.FlagSuppressedExit))
				}
				return
			}
			require.Len(t, f.Records, 1)
			r := f.Records[0]
			assert.False(t, r.Incomplete)
			assert.True(t, r.Flags.Has(flightrec.FlagSuppressedExit|flightrec.FlagFatal), r.Flags.String())
			assert.False(t, r.Flags.Has(flightrec.FlagGoThread))
		})
	}
}

// A fault inside the handler itself (its recorder broken beneath it,
// nativetest.BreakRecorder: the production handler has no test branch) ends
// the process by the signal: with the signal blocked (the kernel's forced
// default action on Linux) and with it unblocked (the handler's re-entry
// guard). Never a loop or a hang.
func TestFaultInsideHandler(t *testing.T) {
	for _, role := range []string{"handler-fault-blocked", "handler-fault-reentered"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+role)
			status, stderr := runChildCmd(t, cmd)
			require.NoError(t, ctx.Err(), "child hung")
			assert.Equal(t, "signal segmentation fault", status, stderr)
			if role == "handler-fault-reentered" {
				// The fault, then the fault inside the handler, whose
				// guard ends the process at once.
				assert.Equal(t, 2, strings.Count(stderr, nativetest.HandlerEntry), "entries into the handler")
			}
		})
	}
}

func TestReinstallUnderForeignHandler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=reinstall-under-foreign")
	status, stderr := runChildCmd(t, cmd)
	require.NoError(t, ctx.Err(), "child hung")
	assert.Equal(t, "exit 0", status, stderr)
}

// TestFaultToRecordLatency measures, in the crashing process, the time from
// just before the faulting store to the record being complete.
func TestFaultToRecordLatency(t *testing.T) {
	for _, mode := range []string{"c-null-gothread", "c-null-pthread"} {
		t.Run(mode, func(t *testing.T) {
			stamp := filepath.Join(t.TempDir(), "stamp")
			require.NoError(t, os.WriteFile(stamp, make([]byte, 4096), 0o600))
			o := run(t, mode, true, "-stamp", stamp)
			f := decode(t, o)
			require.Len(t, f.Records, 1)
			raw, err := os.ReadFile(stamp)
			require.NoError(t, err)
			before := time.Unix(0, int64(binary.LittleEndian.Uint64(raw)))
			r := f.Records[0]
			entry := r.Time.Sub(before)
			done := entry + r.HandlerDuration
			assert.Positive(t, done)
			assert.Less(t, done, 5*time.Second)
			fmt.Printf("fault-to-record %s: handler entry %.1f µs, record complete %.1f µs (%d frames)\n",
				mode, us(entry), us(done), len(r.Frames))
		})
	}
	// The cheap path, from the recovered-nil run's records.
	o := run(t, "go-nil-recovered", true)
	f := decode(t, o)
	var d []time.Duration
	for _, r := range f.Records {
		d = append(d, r.HandlerDuration)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	fmt.Printf("fault-to-record go-nil-recovered (cheap path): handler median %.2f µs, max %.2f µs over %d records\n",
		us(d[len(d)/2]), us(d[len(d)-1]), len(d))
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
