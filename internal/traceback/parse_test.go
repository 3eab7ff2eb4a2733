package traceback

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// crash joins lines into crash output. Hand-written cases use it so that
// the tabs the runtime prints stay visible as \t.
func crash(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

func TestParseNotTraceback(t *testing.T) {
	for name, in := range map[string]string{
		"empty":       "",
		"blank lines": "\n\n\n",
		"text":        "hello world\nthis is not a crash\n",
		"binary":      "\x00\x01\x02\xff\xfe",
		"almost":      "goroutine one [running]:\npanicky: x\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse([]byte(in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrNotTraceback))
			assert.NotNil(t, r, "whatever could be parsed")
		})
	}
}

func TestParsePanicInGoroutine(t *testing.T) {
	r, err := Parse(crash(
		"panic: worker failed",
		"",
		"goroutine 7 [running]:",
		"main.(*thing).explode(...)",
		"\t/src/main.go:107",
		"main.worker(0xc000012345)",
		"\t/src/main.go:116 +0x25",
		"created by main.start in goroutine 1",
		"\t/src/main.go:101 +0x66",
		"",
		"goroutine 1 [chan receive, 3 minutes]:",
		"main.main()",
		"\t/src/main.go:20 +0x1d",
	))
	require.NoError(t, err)
	assert.Equal(t, report.KindPanic, r.Kind)
	assert.Equal(t, "worker failed", r.Message)
	assert.False(t, r.MessageInferred)
	assert.Equal(t, int64(7), r.CrashedGoroutine)
	require.Len(t, r.Goroutines, 2)
	g := r.Goroutines[0]
	assert.True(t, g.Crashed)
	assert.Equal(t, []report.Frame{
		{Function: "main.(*thing).explode", Package: "main", File: "/src/main.go", Line: 107, Args: "..."},
		{Function: "main.worker", Package: "main", File: "/src/main.go", Line: 116, Offset: 0x25, Args: "0xc000012345"},
	}, g.Frames)
	assert.Equal(t, &report.Frame{Function: "main.start", Package: "main", File: "/src/main.go", Line: 101, Offset: 0x66}, g.CreatedBy)
	assert.Equal(t, int64(1), g.CreatedByGoroutine)
	assert.False(t, r.Goroutines[1].Crashed)
	assert.Equal(t, 3, r.Goroutines[1].WaitMinutes)
	assert.Nil(t, r.Goroutines[1].CreatedBy)
}

func TestParsePanicChains(t *testing.T) {
	for name, tc := range map[string]struct {
		in     []byte
		msg    string
		panics []Panic
	}{
		"recovered then another": {
			in:     crash("panic: first [recovered]", "\tpanic: second", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"),
			msg:    "second",
			panics: []Panic{{Value: "first", Recovered: true}, {Value: "second"}},
		},
		"repanicked (Go 1.25+)": {
			in:     crash("panic: boom [recovered, repanicked]", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"),
			msg:    "boom",
			panics: []Panic{{Value: "boom", Recovered: true, Repanicked: true}},
		},
		// printpanics (Go 1.25+) prints a repanicked value once and goes on
		// with the next panic that has another value.
		"repanicked then another (Go 1.25+)": {
			in:     crash("panic: boom [recovered, repanicked]", "\tpanic: cleanup", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"),
			msg:    "cleanup",
			panics: []Panic{{Value: "boom", Recovered: true, Repanicked: true}, {Value: "cleanup"}},
		},
		"multi-line values in a chain": {
			in: crash("panic: a", "\tb [recovered]", "\tpanic: c", "\t", "\td", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1]",
				"", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"),
			msg:    "c\n\nd",
			panics: []Panic{{Value: "a\nb", Recovered: true}, {Value: "c\n\nd"}},
		},
		"custom type": {
			in:     crash("panic: main.MyErr{Code:7} [recovered]", "\tpanic: (main.T) 0xc000012345", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1"),
			msg:    "(main.T) 0xc000012345",
			panics: []Panic{{Value: "main.MyErr{Code:7}", Recovered: true}, {Value: "(main.T) 0xc000012345"}},
		},
		"trimmed": {
			in:     crash("panic:  spaced  ", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1"),
			msg:    "spaced",
			panics: []Panic{{Value: " spaced  "}},
		},
		"program output before": {
			in:     crash("starting server", "listening on :8080", "panic: boom", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1"),
			msg:    "boom",
			panics: []Panic{{Value: "boom"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(tc.in)
			require.NoError(t, err)
			assert.Equal(t, report.KindPanic, r.Kind)
			assert.Equal(t, tc.msg, r.Message)
			assert.Equal(t, tc.panics, r.Panics)
		})
	}
}

// TestParseFatalEndsPanicChain: the lines runtime.fatal prints when it
// throws in a deferred call of a panic, built the way Go 1.26's
// printPreFatalDeferPanic and printindented print them (a chain of two
// panics, a two-line throw text). Real outputs: realdata_test.go,
// TestFatalInterruptsPanicChain.
func TestParseFatalEndsPanicChain(t *testing.T) {
	r, err := Parse(crash("panic: a [recovered]", "\tpanic: b", "\tfatal error: x", "\ty",
		"", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"))
	require.NoError(t, err)
	assert.Equal(t, report.KindFatalError, r.Kind)
	assert.Equal(t, "x\ny", r.Message)
	assert.False(t, r.MessageInferred)
	assert.Equal(t, []Panic{{Value: "a", Recovered: true}, {Value: "b"}}, r.Panics)
	assert.Equal(t, int64(1), r.CrashedGoroutine)
}

func TestParseCRLF(t *testing.T) {
	in := strings.ReplaceAll(string(crash("panic: boom", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:3 +0x1")), "\n", "\r\n")
	r, err := Parse([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, "boom", r.Message)
	assert.Equal(t, 3, r.Goroutines[0].Frames[0].Line)
}

func TestParseFatalErrorPrinted(t *testing.T) {
	// Standard error, or a Go release that fixes golang/go#76859.
	r, err := Parse(crash(
		"fatal error: all goroutines are asleep - deadlock!",
		"",
		"goroutine 1 [chan receive]:",
		"main.main()",
		"\t/m.go:5 +0x1d",
	))
	require.NoError(t, err)
	assert.Equal(t, report.KindFatalError, r.Kind)
	assert.Equal(t, "all goroutines are asleep - deadlock!", r.Message)
	assert.False(t, r.MessageInferred)
	assert.Zero(t, r.CrashedGoroutine)

	// printindented: a multi-line throw message.
	r, err = Parse(crash("fatal error: line one", "\tline two", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:5"))
	require.NoError(t, err)
	assert.Equal(t, "line one\nline two", r.Message, "without the tab printindented adds")

	r, err = Parse(crash(
		"unexpected fault address 0xdeadbeef",
		"fatal error: fault",
		"[signal SIGSEGV: segmentation violation code=0x2 addr=0xdeadbeef pc=0x4a2f1c]",
		"",
		"goroutine 1 gp=0xc000002380 m=0 mp=0x62ab40 [running]:",
		"runtime.throw({0x1?, 0x2?})",
		"\t/go/src/runtime/panic.go:1073 +0x48 fp=0xc1 sp=0xc2 pc=0x469308",
	))
	require.NoError(t, err)
	assert.Equal(t, report.KindFault, r.Kind)
	assert.Equal(t, "fault", r.Message)
	assert.True(t, r.UnexpectedFault)
	assert.Equal(t, uint64(0xdeadbeef), r.FaultAddress)
	assert.Equal(t, uint64(0x469308), r.Goroutines[0].Frames[0].PC)

	r, err = Parse(crash("fatal error: unexpected signal during runtime execution", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1]"))
	require.NoError(t, err)
	assert.Equal(t, report.KindFault, r.Kind)
}

func TestParseRuntimeDiagnostics(t *testing.T) {
	// The lines that precede a throw, when they survive without the
	// "fatal error:" line itself.
	r, err := Parse(crash(
		"runtime: goroutine stack exceeds 1000000000-byte limit",
		"runtime: sp=0xc020160398 stack=[0xc020160000, 0xc040160000]",
		"",
		"goroutine 1 [running]:",
		"main.f(...)",
		"\t/m.go:3",
	))
	require.NoError(t, err)
	assert.Equal(t, "stack overflow", r.Message)
	assert.True(t, r.MessageInferred)
	assert.Contains(t, r.InferredFrom, "goroutine stack exceeds")
	assert.Len(t, r.Diagnostics, 2)

	r, err = Parse(crash("runtime: out of memory: cannot allocate 8192-byte block (1048576 in use)", "", "goroutine 1 [running]:", "main.f()", "\t/m.go:3"))
	require.NoError(t, err)
	assert.Equal(t, "out of memory", r.Message)
	assert.Equal(t, report.KindFatalError, r.Kind)
}

func TestParseElidedAndUnavailable(t *testing.T) {
	r, err := Parse(crash(
		"panic: deep",
		"",
		"goroutine 1 [running]:",
		"main.f(...)",
		"\t/m.go:3",
		"...additional frames elided...",
		"",
		"goroutine 2 [running]:",
		"\tgoroutine running on other thread; stack unavailable",
		"created by main.main in goroutine 1",
		"\t/m.go:9 +0x1",
		"",
		"goroutine 3 [runnable]:",
		"main.g()",
		"\t/m.go:12 +0x2",
		"...12 frames elided...",
		"main.h()",
		"\t/m.go:13 +0x3",
	))
	require.NoError(t, err)
	require.Len(t, r.Goroutines, 3)
	assert.True(t, r.Goroutines[0].FramesElided)
	assert.Empty(t, r.Goroutines[1].Frames)
	assert.NotNil(t, r.Goroutines[1].CreatedBy)
	assert.True(t, r.Goroutines[2].FramesElided)
	assert.Len(t, r.Goroutines[2].Frames, 2)
}

func TestParseRelayFillsUnavailableStacks(t *testing.T) {
	// GOTRACEBACK=crash on stderr: the other thread prints the stack the
	// crashing thread could not.
	r, err := Parse(crash(
		"panic: busy",
		"",
		"goroutine 1 gp=0x1 m=0 mp=0x2 [running]:",
		"main.main()",
		"\t/m.go:3 +0x1 fp=0x1 sp=0x2 pc=0x3",
		"",
		"goroutine 5 gp=0x4 m=2 mp=0x5 [running]:",
		"\tgoroutine running on other thread; stack unavailable",
		"",
		"-----",
		"",
		"SIGQUIT: quit",
		"PC=0x4878c3 m=2 sigcode=0",
		"",
		"goroutine 0 gp=0x6 m=2 mp=0x5 [idle]:",
		"runtime.futex(0x1)",
		"\t/go/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0x1 sp=0x2 pc=0x3",
		"",
		"goroutine 5 gp=0x4 m=2 mp=0x5 [running]:",
		"main.spin()",
		"\t/m.go:20 +0x4 fp=0x1 sp=0x2 pc=0x5",
		"",
		"rax    0x1",
		"",
		"goroutine 1 gp=0x1 m=0 mp=0x2 [running]:",
		"main.other()",
		"\t/m.go:99 +0x4 fp=0x1 sp=0x2 pc=0x5",
	))
	require.NoError(t, err)
	assert.Equal(t, report.KindPanic, r.Kind, "the relayed SIGQUIT is not the crash")
	assert.Nil(t, r.Signal)
	assert.Empty(t, r.Registers)
	assert.Empty(t, r.RuntimeStack)
	require.Len(t, r.Goroutines, 2)
	assert.Equal(t, "main.main", r.Goroutines[0].Frames[0].Function, "a traced goroutine keeps its stack")
	require.Len(t, r.Goroutines[1].Frames, 1)
	assert.Equal(t, "main.spin", r.Goroutines[1].Frames[0].Function)
	assert.Equal(t, int64(1), r.CrashedGoroutine)
}

func TestParseFatalSignalInC(t *testing.T) {
	r, err := Parse(crash(
		"SIGSEGV: segmentation violation",
		"PC=0x7f0000001234 m=3 sigcode=1 addr=0x10",
		"signal arrived during cgo execution",
		"",
		"goroutine 6 gp=0xc000003500 m=3 mp=0xc000080008 [syscall]:",
		"runtime.cgocall(0x4c5a10, 0xc000049f50)",
		"\t/go/src/runtime/cgocall.go:167 +0x4b fp=0xc1 sp=0xc2 pc=0x40a8cb",
		"main._Cfunc_crash()",
		"\t_cgo_gotypes.go:56 +0x3a fp=0xc3 sp=0xc4 pc=0x4c5b5a",
		"non-Go function at pc=0x7f0000001234",
		"created by main.main in goroutine 1",
		"\t/m.go:9 +0x1",
		"",
		"rax    0x0",
		"rip    0x7f0000001234",
		"rflags 0x10246",
	))
	require.NoError(t, err)
	assert.Equal(t, report.KindFault, r.Kind)
	assert.Equal(t, "SIGSEGV: segmentation violation", r.Message)
	assert.True(t, r.CgoExecution)
	assert.Equal(t, &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 1, Addr: 0x10, PC: 0x7f0000001234}, r.Signal)
	assert.Equal(t, map[string]uint64{"rax": 0, "rip": 0x7f0000001234, "rflags": 0x10246}, r.Registers)
	assert.Equal(t, int64(6), r.CrashedGoroutine, "a goroutine in a cgo call is in syscall")
	fs := r.Goroutines[0].Frames
	require.Len(t, fs, 3)
	assert.Equal(t, report.Frame{PC: 0x7f0000001234}, fs[2])

	// arm64 register names.
	r, err = Parse(crash("SIGABRT: abort", "PC=0x1 m=0 sigcode=0", "", "r0      0x0", "lr      0x4a1b2c", "sp      0xc000", "pc      0x1", "fault   0x0"))
	require.NoError(t, err)
	assert.Equal(t, uint64(0x4a1b2c), r.Registers["lr"])
	assert.Len(t, r.Registers, 5)
}

func TestParseHintsDarwin(t *testing.T) {
	in := crash("panic: runtime error: invalid memory address or nil pointer dereference",
		"[signal SIGBUS: bus error code=0x2 addr=0x0 pc=0x100a1b2c]", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:3 +0x1")
	r, err := ParseWith(in, Hints{GOOS: "darwin"})
	require.NoError(t, err)
	assert.Equal(t, 10, r.Signal.Number)
	r, err = ParseWith(in, Hints{GOOS: "linux"})
	require.NoError(t, err)
	assert.Equal(t, 7, r.Signal.Number)
}

func TestInferFault(t *testing.T) {
	// The SetCrashOutput copy of a fault: "unexpected fault address" and
	// "fatal error: ..." are gone; the signal line and the frames stay.
	fault := func(signal, faulting string) []byte {
		return crash(
			signal,
			"",
			"goroutine 1 gp=0xc000002380 m=0 mp=0x62ab40 [running]:",
			"runtime.throw({0x1?, 0x2?})",
			"\t/go/src/runtime/panic.go:1073 +0x48 fp=0xc1 sp=0xc2 pc=0x3",
			"runtime.sigpanic()",
			"\t/go/src/runtime/signal_unix.go:945 +0x285 fp=0xc1 sp=0xc2 pc=0x4",
			faulting,
			"\t/m.go:7 +0x19 fp=0xc1 sp=0xc2 pc=0x5",
		)
	}
	for name, tc := range map[string]struct {
		in       []byte
		msg      string
		uf       bool
		inferred bool
	}{
		"fault in user code": {
			in:  fault("[signal SIGSEGV: segmentation violation code=0x1 addr=0x1000000 pc=0x5]", "main.read(...)"),
			msg: "fault", uf: true, inferred: true,
		},
		"general protection fault reports addr 0": {
			in:  fault("[signal SIGSEGV: segmentation violation code=0x80 addr=0x0 pc=0x5]", "main.read(...)"),
			msg: "fault", uf: true, inferred: true,
		},
		"nil address that could not panic": {
			in:  fault("[signal SIGSEGV: segmentation violation code=0x1 addr=0x8 pc=0x5]", "main.read(...)"),
			msg: "unexpected signal during runtime execution", inferred: true,
		},
		"FPE that could not panic": {
			in:  fault("[signal SIGFPE: floating-point exception code=0x1 addr=0x5 pc=0x5]", "main.div(...)"),
			msg: "unexpected signal during runtime execution", inferred: true,
		},
		"in the runtime: undecided": {
			in: fault("[signal SIGSEGV: segmentation violation code=0x1 addr=0x1000000 pc=0x5]", "runtime.memmove()"),
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(tc.in)
			require.NoError(t, err)
			assert.Equal(t, report.KindFault, r.Kind)
			assert.Equal(t, tc.msg, r.Message)
			assert.Equal(t, tc.inferred, r.MessageInferred)
			assert.Equal(t, tc.inferred, r.InferredFrom != "")
			assert.Equal(t, tc.uf, r.UnexpectedFault)
			if tc.uf {
				assert.Equal(t, r.Signal.Addr, r.FaultAddress)
			}
		})
	}
}

func TestInferNeedsEvidence(t *testing.T) {
	for name, in := range map[string][]byte{
		// A running goroutine and only user frames: a fatal error, but
		// nothing says which.
		"user frames only": crash("", "goroutine 1 [running]:", "main.main()", "\t/m.go:3 +0x1"),
		// Not a deadlock: somebody is running.
		"blocked and running": crash("", "goroutine 1 [chan receive]:", "main.main()", "\t/m.go:3 +0x1",
			"", "goroutine 2 [runnable]:", "main.f()", "\t/m.go:9 +0x1"),
		// Not a deadlock: a signal.
		"blocked with a signal": crash("[signal SIGSEGV: segmentation violation code=0x1 addr=0x1000 pc=0x1]",
			"", "goroutine 1 [chan receive]:", "main.main()", "\t/m.go:3 +0x1"),
		// A throw from a function with several messages, at a line where
		// no release throws, and no message length.
		"unknown thrower": crash("", "goroutine 1 gp=0x1 m=0 mp=0x2 [running]:", "runtime.throw({0x1?, 0x2?})",
			"\t/go/src/runtime/panic.go:1073 +0x48", "runtime.coroswitch_m(0x1)", "\t/go/src/runtime/coro.go:1 +0x1"),
		// A function the runtime sources do not have.
		"no such thrower": crash("", "goroutine 1 gp=0x1 m=0 mp=0x2 [running]:", "runtime.throw({0x1?, 0x2?})",
			"\t/go/src/runtime/panic.go:1073 +0x48", "runtime.noSuchFunction(0x1)", "\t/go/src/runtime/x.go:600 +0x1"),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(in)
			require.NoError(t, err)
			assert.Empty(t, r.Message)
			assert.False(t, r.MessageInferred)
			assert.Empty(t, r.InferredFrom)
		})
	}
	r, err := Parse(crash("[signal SIGSEGV: segmentation violation code=0x1 addr=0x1000 pc=0x1]", "", "goroutine 1 [chan receive]:", "main.main()", "\t/m.go:3"))
	require.NoError(t, err)
	assert.Equal(t, report.KindFault, r.Kind, "kind from the evidence there is")
}

func TestInferMaps(t *testing.T) {
	// System-level frames name the map operation; without them only the
	// family is known, unless the length or the hints say more.
	mapCrash := func(fatalArgs string, caller string) []byte {
		lines := []string{"", "goroutine 7 gp=0x1 m=0 mp=0x2 [running]:"}
		if fatalArgs != "" {
			lines = append(lines, "runtime.fatal("+fatalArgs+")", "\t/go/src/runtime/panic.go:1253 +0x74")
		}
		lines = append(lines, "internal/runtime/maps.fatal({0x53fb88?, 0x0?})", "\t/go/src/runtime/panic.go:1181 +0x18")
		if caller != "" {
			lines = append(lines, caller+"(0x1, 0x2)", "\t/go/src/internal/runtime/maps/x.go:1 +0x1")
		}
		lines = append(lines, "main.work()", "\t/m.go:10 +0x4c")
		return crash(lines...)
	}
	for name, tc := range map[string]struct {
		in   []byte
		h    Hints
		want string
	}{
		"assign":            {in: mapCrash("", "runtime.mapassign_fast64"), want: msgMapWrites},
		"delete":            {in: mapCrash("", "runtime.mapdelete_faststr"), want: msgMapWrites},
		"access":            {in: mapCrash("", "runtime.mapaccess2"), want: msgMapRead},
		"iterate":           {in: mapCrash("", "internal/runtime/maps.(*Iter).Next"), want: msgMapIter},
		"clone":             {in: mapCrash("", "internal/runtime/maps.(*Map).Clone"), want: msgMapClone},
		"hidden":            {in: mapCrash("", ""), want: msgMapFamily},
		"hidden + length":   {in: mapCrash("{0x53fb88, 0x26}", ""), want: msgMapIter},
		"unsure length":     {in: mapCrash("{0x53fb88?, 0x26?}", ""), want: msgMapFamily},
		"hidden + hints":    {in: mapCrash("", ""), h: Hints{Strings: map[uint64]string{0x53fb88: msgMapRead}}, want: msgMapRead},
		"hints beat frames": {in: mapCrash("", "runtime.mapassign"), h: Hints{Strings: map[uint64]string{0x53fb88: msgMapSmall}}, want: msgMapSmall},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := ParseWith(tc.in, tc.h)
			require.NoError(t, err)
			assert.Equal(t, report.KindFatalError, r.Kind)
			assert.Equal(t, tc.want, r.Message)
			assert.True(t, r.MessageInferred)
			assert.NotEmpty(t, r.InferredFrom)
			assert.Equal(t, int64(7), r.CrashedGoroutine)
		})
	}
}

func TestInferDeadlockKinds(t *testing.T) {
	runtimeStack := []string{
		"runtime stack:",
		"runtime.fatal({0x543f96?, 0x25?})",
		"\t/go/src/runtime/panic.go:1253 +0x74",
		"runtime.checkdead()",
		"\t/go/src/runtime/proc.go:6468 +0x23a",
		"",
	}
	// Only the runtime's own goroutines are left: main called Goexit.
	in := crash(append(append([]string{""}, runtimeStack...),
		"goroutine 2 gp=0x1 m=nil [force gc (idle)]:", "runtime.gopark(0x0?)", "\t/go/src/runtime/proc.go:462 +0xce",
		"created by runtime.init.7 in goroutine 1", "\t/go/src/runtime/proc.go:363 +0x1a")...)
	r, err := Parse(in)
	require.NoError(t, err)
	assert.Equal(t, msgNoGoroutines, r.Message)
	assert.Zero(t, r.CrashedGoroutine)

	in = crash(append(append([]string{""}, runtimeStack...),
		"goroutine 1 gp=0x1 m=nil [chan receive]:", "main.main()", "\t/m.go:3 +0x1")...)
	r, err = Parse(in)
	require.NoError(t, err)
	assert.Equal(t, msgDeadlock, r.Message)
	assert.Equal(t, "runtime.fatal", r.RuntimeStack[0].Function)
}

func TestParseDebugStack(t *testing.T) {
	// runtime/debug.Stack output is the same format without a header.
	r, err := Parse(crash(
		"goroutine 1 [running]:",
		"runtime/debug.Stack()",
		"\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e",
		"main.main()",
		"\t/src/main.go:9 +0x1d",
	))
	require.NoError(t, err)
	require.Len(t, r.Goroutines, 1)
	assert.Equal(t, "runtime/debug", r.Goroutines[0].Frames[0].Package)
	assert.Empty(t, r.Message)
}

func TestParseWithNeverPanics(t *testing.T) {
	// A crash text cut anywhere must still parse.
	b := readTestdata(t, "go1.26/panic_states.all.crash.txt")
	for i := 0; i <= len(b); i += 7 {
		assert.NotPanics(t, func() { _, _ = newParser(Hints{}).parse(b[:i]) })
	}
}

// TestCgoSymbolizerFrames: with a cgo traceback symbolizer registered
// (runtime.SetCgoTraceback), C frames print as the symbol's name without
// arguments, or "non-Go function", over "\tfile:line pc=0x..." or
// "\tpc=0x..." (runtime.printOneCgoTraceback). The lines are from
// runtime/testdata/testprogcgo's CrashTraceback.
func TestCgoSymbolizerFrames(t *testing.T) {
	r, err := Parse(crash(
		"SIGSEGV: segmentation violation",
		"PC=0x55d4a3 m=0 sigcode=1 addr=0x0",
		"signal arrived during cgo execution",
		"",
		"goroutine 1 gp=0x726fbab41e0 m=0 mp=0x7191a0 [syscall]:",
		"non-Go function",
		"\tcgo symbolizer:1 pc=0x1",
		"tracebackF3",
		"\t/src/traceback_c.c:12 pc=0x55d4a3",
		"non-Go function",
		"\tpc=0x3",
		"runtime.cgocall(0x55b593, 0x726fbb05e80)",
		"\t/usr/local/go/src/runtime/cgocall.go:167 +0x4b fp=0x726fbb05e58 sp=0x726fbb05e20 pc=0x486acb",
		"main.main()",
		"\t/m.go:3 +0x1",
		"runtime: g 1: unexpected return pc for main.main called from 0xbad",
		"stack: frame={sp:0x1, fp:0x2} stk={lo:0x0, hi:0x3}",
	))
	require.NoError(t, err)
	require.Len(t, r.Goroutines, 1)
	fs := r.Goroutines[0].Frames
	require.Len(t, fs, 5)
	assert.Equal(t, report.Frame{File: "cgo symbolizer", Line: 1, PC: 1}, fs[0])
	assert.Equal(t, report.Frame{Function: "tracebackF3", File: "/src/traceback_c.c", Line: 12, PC: 0x55d4a3}, fs[1])
	assert.Equal(t, report.Frame{PC: 3}, fs[2])
	assert.Equal(t, "runtime.cgocall", fs[3].Function)
	assert.Equal(t, "main.main", fs[4].Function)
	assert.Equal(t, int64(1), r.CrashedGoroutine)
	// A line in a stack that no location line follows is no frame.
	assert.Contains(t, r.Diagnostics, "runtime: g 1: unexpected return pc for main.main called from 0xbad")
}

// TestPanicWhilePrintingPrefix: "panic while printing panic value" is
// followed by ": " and what the String or Error method panicked with, built
// at run time. The crash file has none of it: the message is a prefix, and
// says so.
func TestPanicWhilePrintingPrefix(t *testing.T) {
	r, err := Parse(readTestdata(t, "go1.26/throw_in_panic_print.crash.txt"))
	require.NoError(t, err)
	assert.Equal(t, msgPrintPanic, r.Message)
	assert.True(t, r.MessageInferred)
	assert.True(t, r.MessagePrefix)
	assert.Contains(t, r.InferredFrom, "prefix")
	e, err := Parse(readTestdata(t, "go1.26/throw_in_panic_print.stderr.txt"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(e.Message, msgPrintPanic+": "), e.Message)
	assert.False(t, e.MessagePrefix)
}

// TestHiddenFatal: at GOTRACEBACK=single a fatal hides the runtime's
// frames; the top frame is then the function that called fatal, here under
// the name its //go:linkname gives it (testprog's SynctestCond modes).
func TestHiddenFatal(t *testing.T) {
	r, err := Parse(crash("",
		"goroutine 1 [running]:",
		"sync.runtime_notifyListNotifyAll(0xc000012345?)",
		"\t/usr/local/go/src/runtime/sema.go:658 +0x1d",
		"sync.(*Cond).Broadcast(...)",
		"\t/usr/local/go/src/sync/cond.go:91",
		"main.main()",
		"\t/m.go:3 +0x1",
	))
	require.NoError(t, err)
	assert.Equal(t, "semaphore wake of synctest goroutine from outside bubble", r.Message)
	assert.True(t, r.MessageInferred)
	assert.Contains(t, r.InferredFrom, "sema.go:658")
	// Not at a line where the sources call fatal: no message.
	r, err = Parse(crash("",
		"goroutine 1 [running]:",
		"sync.runtime_notifyListNotifyAll(0xc000012345?)",
		"\t/usr/local/go/src/runtime/sema.go:600 +0x1d",
	))
	require.NoError(t, err)
	assert.Empty(t, r.Message)
}
