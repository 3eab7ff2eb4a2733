//go:build cgo && linux

package crashguard

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// nativeCrash is a cgocrash mode and what its report must say.
type nativeCrash struct {
	mode     string
	exit     int
	signal   syscall.Signal // the killing signal, 0 when it exited
	goOutput bool           // Go printed a traceback (a Go thread)
	sig      int            // recorded signal
	sigName  string
	codeName string
	addr     uint64 // fault address, for SIGSEGV/SIGBUS
	cFunc    string // the C function that faulted, among the top native frames
	caller   string // if set: frame 0 is cFunc and frame 1 this, exactly
	// third, if set, prefixes frame 2's function: the caller's caller,
	// which only the CFI names when the caller has no frame record.
	third    string
	excType  string
	excValue string
}

// nativeCrashes is the table for this architecture, each value as real runs
// gave it (arm64: under QEMU user emulation, .ci/arm64.sh).
func nativeCrashes(t *testing.T) []nativeCrash {
	common := []nativeCrash{
		{mode: "c-null-gothread", exit: 2, goOutput: true, sig: 11, sigName: "SIGSEGV", codeName: "SEGV_MAPERR", addr: 0x28,
			cFunc: "cgc_fault_inner", caller: "cgc_fault_outer", excType: "SIGSEGV", excValue: "Segfault at 0x28"},
		// Frame records omitted: the callers come from the CFI alone.
		{mode: "c-null-nofp", exit: 2, goOutput: true, sig: 11, sigName: "SIGSEGV", codeName: "SEGV_MAPERR", addr: 0x98,
			cFunc: "cgc_nofp_inner", caller: "cgc_nofp_outer", third: "_cgo_", excType: "SIGSEGV", excValue: "Segfault at 0x98"},
		{mode: "c-null-nofp-leaf", exit: 2, goOutput: true, sig: 11, sigName: "SIGSEGV", codeName: "SEGV_MAPERR", addr: 0xa8,
			cFunc: "cgc_nofp_leaf", caller: "cgc_nofp_leaf_outer", third: "_cgo_", excType: "SIGSEGV", excValue: "Segfault at 0xa8"},
		{mode: "c-abort-gothread", exit: 2, goOutput: true, sig: 6, sigName: "SIGABRT", codeName: "SI_TKILL",
			cFunc: "cgc_abort", excType: "SIGABRT", excValue: "Abort"},
		{mode: "c-bus-gothread", exit: 2, goOutput: true, sig: 7, sigName: "SIGBUS", codeName: "BUS_ADRERR",
			cFunc: "cgc_bus", excType: "SIGBUS", excValue: "Bus error at 0x"}, // + the mapping's address
		{mode: "c-null-pthread", exit: -1, signal: syscall.SIGSEGV, sig: 11, sigName: "SIGSEGV", codeName: "SEGV_MAPERR", addr: 0x38,
			cFunc: "cgc_fault_inner", caller: "cgc_fault_outer", excType: "SIGSEGV", excValue: "Segfault at 0x38"},
		{mode: "c-abort-pthread", exit: -1, signal: syscall.SIGABRT, sig: 6, sigName: "SIGABRT", codeName: "SI_TKILL",
			cFunc: "cgc_abort", excType: "SIGABRT", excValue: "Abort"},
		{mode: "c-32threads", exit: -1, signal: syscall.SIGSEGV, sig: 11, sigName: "SIGSEGV", codeName: "SEGV_MAPERR", addr: 0x48,
			cFunc: "herd_thread", excType: "SIGSEGV", excValue: "Segfault at 0x48"},
	}
	switch runtime.GOARCH {
	case "amd64":
		return append(common,
			nativeCrash{mode: "c-fpe-gothread", exit: 2, goOutput: true, sig: 8, sigName: "SIGFPE", codeName: "FPE_INTDIV",
				cFunc: "cgc_fpe", excType: "SIGFPE", excValue: "Floating point exception"},
			nativeCrash{mode: "c-trap-gothread", exit: 2, goOutput: true, sig: 4, sigName: "SIGILL", codeName: "ILL_ILLOPN",
				cFunc: "cgc_trap", excType: "SIGILL", excValue: "Illegal instruction"})
	case "arm64":
		// Integer division by zero does not trap on arm64 (c-fpe-gothread
		// exits 0: not a crash); __builtin_trap is brk, SIGTRAP.
		return append(common,
			nativeCrash{mode: "c-trap-gothread", exit: 2, goOutput: true, sig: 5, sigName: "SIGTRAP", codeName: "TRAP_BRKPT",
				cFunc: "cgc_trap", excType: "SIGTRAP", excValue: "Trace/breakpoint trap"})
	}
	t.Skipf("no native crash table for %s", runtime.GOARCH)
	return nil
}

// pcSP are the names of the pc and sp registers in a report and an event.
func pcSP() (string, string) {
	if runtime.GOARCH == "arm64" {
		return "pc", "sp"
	}
	return "rip", "rsp"
}

func TestNativeCrashesBecomeExactlyOneReportWithNativeEvidence(t *testing.T) {
	bin := testprog(t, "cgocrash")
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	for _, c := range nativeCrashes(t) {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"-mode", c.mode, "-tmp", t.TempDir()}
			baseline := runChild(t, bin, t.TempDir(), nil, args...)
			got := runChild(t, bin, dir, nil, append(args, "-crashguard")...)
			require.Contains(t, got.stdout, "layers=crash-output+signal-chain+flight-recorder", "stderr:\n%s", got.stderr)
			assert.Equal(t, c.exit, got.exit, "exit status")
			assert.Equal(t, c.signal, got.signal, "killing signal")
			assert.Equal(t, baseline.exit, got.exit, "crashguard must not change the exit status")
			assert.Equal(t, baseline.signal, got.signal, "crashguard must not change the killing signal")

			g := newTestGuard(t, dir, recv.DSN())
			pending, err := g.Pending()
			require.NoError(t, err)
			require.Len(t, pending, 1, "exactly one report; child stderr:\n%s", got.stderr)
			r, err := g.outbox.Load(pending[0].EventID)
			require.NoError(t, err)
			assertNativeReport(t, c, r, got)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, g.Flush(ctx))
			assertNativeEvent(t, c, r, waitEvent(t, recv, r.EventID))
		})
	}
}

func assertNativeReport(t *testing.T, c nativeCrash, r *report.Report, child childResult) {
	t.Helper()
	assert.Equal(t, report.KindFault, r.Kind)
	assert.Equal(t, child.pid, r.Process.PID)
	if c.goOutput {
		assert.NotEmpty(t, r.CrashOutput, "Go printed its traceback")
		assert.Equal(t, c.sigName+": "+signalText[c.sigName], r.Message)
	} else {
		assert.Empty(t, r.CrashOutput, "Go never saw a fault on a thread it did not create")
		assert.Equal(t, c.sigName+": "+signalText[c.sigName], r.Message)
		assert.Empty(t, r.Goroutines)
	}
	n := r.Native
	require.NotNil(t, n, "the flight recorder's record is in the report")
	assert.Equal(t, c.sig, n.Signal)
	assert.Equal(t, c.sigName, n.SignalName)
	assert.Equal(t, c.codeName, n.CodeName)
	if c.addr != 0 {
		assert.Equal(t, c.addr, n.Address)
	}
	assert.True(t, n.Fatal, "a C fault chained to Go's handler is known fatal")
	assert.Equal(t, c.goOutput, n.GoThread)
	assert.NotZero(t, n.ThreadID)
	assert.NotZero(t, n.PC)
	pcReg, spReg := pcSP()
	assert.Equal(t, n.PC, n.Registers[pcReg], "registers are the faulting context")
	assert.NotZero(t, n.Registers[spReg])
	require.NotEmpty(t, n.Frames)
	var names []string
	for i, f := range n.Frames {
		if i < 6 {
			names = append(names, f.Function)
		}
		assert.True(t, f.Native)
	}
	assert.Contains(t, names, c.cFunc, "the faulting C function is among the top native frames")
	if c.caller != "" {
		require.GreaterOrEqual(t, len(names), 2)
		assert.Equal(t, []string{c.cFunc, c.caller}, names[:2], "the first frames exactly: %q", names)
	}
	if c.third != "" {
		require.GreaterOrEqual(t, len(names), 3)
		assert.True(t, strings.HasPrefix(names[2], c.third), "frame 2 is %q, not %s…: %q", names[2], c.third, names)
	}
	for i := 1; i < len(names); i++ {
		assert.False(t, names[i] != "" && names[i] == names[i-1], "%s twice in a row: %q", names[i], names)
	}
	var mainImage bool
	for _, im := range r.Images {
		if im.IsMain {
			mainImage = true
			assert.Equal(t, "elf", im.Type)
			assert.NotEmpty(t, im.BuildID)
		}
	}
	assert.True(t, mainImage, "the executable is among the images")
	assert.False(t, r.OSReportSuppressed)
}

var signalText = map[string]string{
	"SIGSEGV": "segmentation violation", "SIGBUS": "bus error", "SIGFPE": "floating-point exception",
	"SIGILL": "illegal instruction", "SIGABRT": "abort", "SIGTRAP": "trace trap",
}

func assertNativeEvent(t *testing.T, c nativeCrash, r *report.Report, ev sentrytest.Received) {
	t.Helper()
	require.NoError(t, ev.SchemaErr, "the event validates against Sentry's schema")
	exc := dig(ev.Event, "exception", "values", 0)
	assert.Equal(t, c.excType, exc["type"])
	if strings.HasSuffix(c.excValue, " at 0x") {
		assert.Equal(t, fmt.Sprintf("%s%x", c.excValue, r.Native.Address), exc["value"])
	} else {
		assert.Equal(t, c.excValue, exc["value"])
	}
	mech := dig(exc, "mechanism")
	assert.Equal(t, "signalhandler", mech["type"])
	assert.Equal(t, false, mech["handled"])
	assert.Equal(t, true, mech["synthetic"])
	sig := dig(mech, "meta", "signal")
	assert.EqualValues(t, c.sig, num(sig["number"]))
	assert.Equal(t, c.sigName, sig["name"])
	assert.Equal(t, c.codeName, sig["code_name"])
	st := dig(exc, "stacktrace")
	regs := dig(st, "registers")
	pcReg, _ := pcSP()
	assert.Regexp(t, "^0x[0-9a-f]+$", regs[pcReg])
	frames, _ := st["frames"].([]any)
	require.NotEmpty(t, frames)
	last := frames[len(frames)-1].(map[string]any)
	assert.Equal(t, "native", last["platform"], "the innermost frame is the native one")
	assert.Regexp(t, "^0x[0-9a-f]+$", last["instruction_addr"])
	var fns []string
	for _, f := range frames {
		if fn, ok := f.(map[string]any)["function"].(string); ok {
			fns = append(fns, fn)
		}
	}
	assert.Contains(t, strings.Join(fns, " "), c.cFunc)
	imgs, _ := dig(ev.Event, "debug_meta")["images"].([]any)
	assert.NotEmpty(t, imgs, "debug images for server-side symbolication")
}

func TestRecoveredNilDereferencesLeaveNoReport(t *testing.T) {
	bin := testprog(t, "cgocrash")
	dir := t.TempDir()
	got := runChild(t, bin, dir, nil, "-mode", "go-nil-recovered", "-crashguard")
	require.Contains(t, got.stdout, "signal-chain", "stderr:\n%s", got.stderr)
	assert.Equal(t, 0, got.exit)
	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending, "10,000 faults that Go recovered are not crashes")
}
