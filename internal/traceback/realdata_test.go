package traceback

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// realCase is what Parse must find in one real crash output from
// testdata/goX.Y/NAME.crash.txt (see testdata/README.md). Regenerating the
// testdata changes goroutine ids and, for the racy map crashes, which
// fatal error happened: update the table then.
type realCase struct {
	name       string
	kind       report.Kind
	msg        string
	inferred   bool
	from       string         // prefix of InferredFrom
	sig        *report.Signal // PC is not compared
	fault      uint64         // FaultAddress, with UnexpectedFault
	cgo        bool
	goroutines int
	crashed    int64
	runtimeTop string // first frame of RuntimeStack
	// top frame of the crashed goroutine, and what created it
	top       string
	topFile   string // base name
	topLine   int
	createdBy string
	createdIn int64
}

var realCases = []realCase{
	{name: "go1.26/panic_main", kind: report.KindPanic, msg: "boom", inferred: false, goroutines: 1, crashed: 1, top: "main.(*thing).explode", topFile: "main.go", topLine: 109},
	{name: "go1.26/panic_goroutine", kind: report.KindPanic, msg: "worker failed", inferred: false, goroutines: 1, crashed: 19, top: "main.(*thing).explode", topFile: "main.go", topLine: 109, createdBy: "main.panicGoroutine", createdIn: 1},
	{name: "go1.26/panic_error", kind: report.KindPanic, msg: "load config: file does not exist", inferred: false, goroutines: 1, crashed: 1, top: "main.panicError", topFile: "main.go", topLine: 130},
	{name: "go1.26/panic_custom", kind: report.KindPanic, msg: "(main.MyErr) 0x549738", inferred: false, goroutines: 1, crashed: 1, top: "main.panicCustom", topFile: "main.go", topLine: 139},
	{name: "go1.26/panic_int", kind: report.KindPanic, msg: "main.Code(42)", inferred: false, goroutines: 1, crashed: 1, top: "main.panicInt", topFile: "main.go", topLine: 150},
	{name: "go1.26/panic_stringer", kind: report.KindPanic, msg: "stringer value 9", inferred: false, goroutines: 1, crashed: 1, top: "main.panicStringer", topFile: "main.go", topLine: 145},
	{name: "go1.26/panic_multiline", kind: report.KindPanic, msg: "first line\nsecond line\n\nfourth line after a blank", inferred: false, goroutines: 1, crashed: 1, top: "main.panicMultiline", topFile: "main.go", topLine: 153},
	{name: "go1.26/panic_repanic", kind: report.KindPanic, msg: "boom", inferred: false, goroutines: 1, crashed: 1, top: "main.panicRepanic.func1", topFile: "main.go", topLine: 159},
	{name: "go1.26/panic_recover_new", kind: report.KindPanic, msg: "second (after first)", inferred: false, goroutines: 1, crashed: 1, top: "main.panicRecoverNew.func1", topFile: "main.go", topLine: 167},
	{name: "go1.26/panic_nested", kind: report.KindPanic, msg: "panic in defer", inferred: false, goroutines: 1, crashed: 1, top: "main.panicNested.func1", topFile: "main.go", topLine: 174},
	{name: "go1.26/panic_goexit", kind: report.KindPanic, msg: "panic during Goexit", inferred: false, goroutines: 1, crashed: 19, top: "main.panicGoexit.func1.1", topFile: "main.go", topLine: 181, createdBy: "main.panicGoexit", createdIn: 1},
	{name: "go1.26/panic_chain", kind: report.KindPanic, msg: "third", inferred: false, goroutines: 1, crashed: 1, top: "main.panicChain.func1", topFile: "chain.go", topLine: 24},
	{name: "go1.26/panic_goexit_chain", kind: report.KindPanic, msg: "after Goexit", inferred: false, goroutines: 1, crashed: 5, top: "main.panicGoexitChain.func1.1", topFile: "chain.go", topLine: 36, createdBy: "main.panicGoexitChain", createdIn: 1},
	// A throw in a deferred call of a panic: the crash file has neither the
	// chain nor the "fatal error:" line (TestFatalInterruptsPanicChain).
	{name: "go1.26/panic_defer_fatal", kind: report.KindFatalError, msg: "sync: unlock of unlocked mutex", inferred: true, from: "internal/sync.fatal called from internal", sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x0}, goroutines: 1, crashed: 1, top: "internal/sync.fatal", topFile: "panic.go", topLine: 1191},
	{name: "go1.26/panic_repanic_fatal", kind: report.KindFatalError, msg: "sync: unlock of unlocked mutex", inferred: true, from: "internal/sync.fatal called from internal", sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x0}, goroutines: 1, crashed: 1, top: "internal/sync.fatal", topFile: "panic.go", topLine: 1191},
	{name: "go1.26/goexit_fatal", kind: report.KindFatalError, msg: "sync: unlock of unlocked mutex", inferred: true, from: "internal/sync.fatal called from internal", goroutines: 1, crashed: 7, top: "internal/sync.fatal", topFile: "panic.go", topLine: 1191, createdBy: "main.goexitFatal", createdIn: 1},
	{name: "go1.26/panic_dotted", kind: report.KindPanic, msg: "dotted: cannot open lid", inferred: false, goroutines: 1, crashed: 1, top: "main.panicDotted.(*Box).Open.func1", topFile: "dotted.go", topLine: 12},
	{name: "go1.26/panic_generic", kind: report.KindPanic, msg: "runtime error: index out of range [-1]", inferred: false, goroutines: 1, crashed: 1, top: "main.(*Stack[...]).Pop", topFile: "main.go", topLine: 196},
	{name: "go1.26/panic_elided", kind: report.KindPanic, msg: "deep", inferred: false, goroutines: 1, crashed: 1, top: "main.panicElided.func1", topFile: "main.go", topLine: 214},
	{name: "go1.26/panic_ancestors", kind: report.KindPanic, msg: "grandchild", inferred: false, goroutines: 1, crashed: 20, top: "main.panicAncestors.func1.1", topFile: "main.go", topLine: 234, createdBy: "main.panicAncestors.func1", createdIn: 19},
	{name: "go1.26/panic_states.all", kind: report.KindPanic, msg: "states", inferred: false, goroutines: 14, crashed: 5, top: "main.(*thing).explode", topFile: "main.go", topLine: 109, createdBy: "main.panicStates", createdIn: 1},
	{name: "go1.26/panic_many.all", kind: report.KindPanic, msg: "20 goroutines blocked", inferred: false, goroutines: 21, crashed: 1, top: "main.panicMany", topFile: "main.go", topLine: 318},
	{name: "go1.26/nil_deref", kind: report.KindPanic, msg: "runtime error: invalid memory address or nil pointer dereference", inferred: false, sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x0}, goroutines: 1, crashed: 1, top: "main.nilDeref", topFile: "main.go", topLine: 362},
	{name: "go1.26/nil_deref.system", kind: report.KindPanic, msg: "runtime error: invalid memory address or nil pointer dereference", inferred: false, sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x0}, goroutines: 6, crashed: 1, top: "panic", topFile: "panic.go", topLine: 879},
	{name: "go1.26/index", kind: report.KindPanic, msg: "runtime error: index out of range [5] with length 3", inferred: false, goroutines: 1, crashed: 1, top: "main.indexOutOfRange", topFile: "main.go", topLine: 368},
	{name: "go1.26/divide", kind: report.KindPanic, msg: "runtime error: integer divide by zero", inferred: false, goroutines: 1, crashed: 1, top: "main.divideByZero", topFile: "main.go", topLine: 373},
	{name: "go1.26/fault_addr", kind: report.KindFault, msg: "fault", inferred: true, from: "runtime.throw called from runtime.sigpan", sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x1000000}, fault: 0x1000000, goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1229},
	{name: "go1.26/fault_addr.system", kind: report.KindFault, msg: "fault", inferred: true, from: "runtime.throw called from runtime.sigpan", sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x1000000}, fault: 0x1000000, goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1229},
	{name: "go1.26/panic_on_fault", kind: report.KindPanic, msg: "runtime error: invalid memory address or nil pointer dereference", inferred: false, sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x1000000}, goroutines: 1, crashed: 1, top: "main.faultAddr", topFile: "main.go", topLine: 383},
	{name: "go1.26/map_writes", kind: report.KindFatalError, msg: "concurrent map access", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 1, crashed: 19, top: "internal/runtime/maps.fatal", topFile: "panic.go", topLine: 1181, createdBy: "main.mapWrites", createdIn: 1},
	{name: "go1.26/map_writes.system", kind: report.KindFatalError, msg: "concurrent map writes", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 8, crashed: 7, top: "runtime.fatal", topFile: "panic.go", topLine: 1253, createdBy: "main.mapWrites", createdIn: 1},
	{name: "go1.26/map_read_write.system", kind: report.KindFatalError, msg: "concurrent map read and map write", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 8, crashed: 20, top: "runtime.fatal", topFile: "panic.go", topLine: 1253, createdBy: "main.mapReadWrite", createdIn: 1},
	{name: "go1.26/map_iter_write.system", kind: report.KindFatalError, msg: "concurrent map read and map write", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 8, crashed: 22, top: "runtime.fatal", topFile: "panic.go", topLine: 1253, createdBy: "main.mapIterWrite", createdIn: 1},
	{name: "go1.26/deadlock", kind: report.KindFatalError, msg: "all goroutines are asleep - deadlock!", inferred: true, from: "every goroutine is blocked and none is r", goroutines: 3, crashed: 0},
	{name: "go1.26/deadlock.system", kind: report.KindFatalError, msg: "all goroutines are asleep - deadlock!", inferred: true, from: "runtime.fatal called from runtime.checkd", goroutines: 8, crashed: 0, runtimeTop: "runtime.fatal"},
	{name: "go1.26/goexit_deadlock", kind: report.KindFatalError, msg: "all goroutines are asleep - deadlock!", inferred: true, from: "every goroutine is blocked and none is r", goroutines: 1, crashed: 0},
	{name: "go1.26/stack_overflow", kind: report.KindFatalError, msg: "stack overflow", inferred: true, from: "runtime.throw called from runtime.newsta", goroutines: 6, crashed: 1, runtimeTop: "runtime.throw", top: "main.recurseForever", topFile: "main.go", topLine: 457},
	{name: "go1.26/oom", kind: report.KindFatalError, msg: "out of memory", inferred: true, from: "runtime.throw called from runtime.(*mcac", goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1229},
	// A second throw on another thread while dying ("runtime: cannot
	// allocate memory" in a runtime stack section): the crashed goroutine's
	// own throw names the error. Captured from crashguard's testprogs/gocrash.
	{name: "go1.26/oom_nested_throw", kind: report.KindFatalError, msg: "out of memory", inferred: true, from: "runtime.throw called from runtime.(*mcac", goroutines: 8, crashed: 1, runtimeTop: "runtime.throw", top: "runtime.throw", topFile: "panic.go", topLine: 1229},
	{name: "go1.26/mutex_unlock", kind: report.KindFatalError, msg: "sync: unlock of unlocked mutex", inferred: true, from: "internal/sync.fatal called from internal", goroutines: 1, crashed: 1, top: "internal/sync.fatal", topFile: "panic.go", topLine: 1191},
	{name: "go1.26/rwmutex_runlock", kind: report.KindFatalError, msg: "sync: RUnlock of unlocked RWMutex", inferred: true, from: "sync.fatal called from sync.(*RWMutex).r", goroutines: 1, crashed: 1, top: "sync.fatal", topFile: "panic.go", topLine: 1161},
	{name: "go1.26/go_nil_func", kind: report.KindFatalError, msg: "", inferred: false, goroutines: 1, crashed: 1, top: "main.goNilFunc", topFile: "main.go", topLine: 501},
	{name: "go1.26/go_nil_func.system", kind: report.KindFatalError, msg: "go of nil func value", inferred: true, from: "runtime.fatal called from runtime.newpro", goroutines: 6, crashed: 1, runtimeTop: "runtime.fatal", top: "runtime.systemstack_switch", topFile: "asm_amd64.s", topLine: 516},
	{name: "go1.26/throw_in_panic_print", kind: report.KindFatalError, msg: "panic while printing panic value", inferred: true, from: "runtime.throw called from runtime.prepri", goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1229},
	{name: "go1.26/sigquit", kind: report.KindFault, msg: "SIGQUIT: quit", inferred: false, sig: &report.Signal{Name: "SIGQUIT", Number: 3, Description: "quit", Code: 0x0, Addr: 0x0}, goroutines: 8, crashed: 8, top: "main.spin", topFile: "main.go", topLine: 1, createdBy: "main.sigquit", createdIn: 1},
	{name: "go1.26/sigquit.crash", kind: report.KindFault, msg: "SIGQUIT: quit", inferred: false, sig: &report.Signal{Name: "SIGQUIT", Number: 3, Description: "quit", Code: 0x0, Addr: 0x0}, goroutines: 8, crashed: 0, runtimeTop: "runtime.rtsigprocmask"},
	{name: "go1.26/cgo_segv", kind: report.KindFault, msg: "SIGSEGV: segmentation violation", inferred: false, sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x0}, cgo: true, goroutines: 6, crashed: 1, top: "runtime.cgocall", topFile: "cgocall.go", topLine: 167},
	{name: "go1.26/cgo_abort", kind: report.KindFault, msg: "SIGABRT: abort", inferred: false, sig: &report.Signal{Name: "SIGABRT", Number: 6, Description: "abort", Code: 0xfffffffffffffffa, Addr: 0x0}, cgo: true, goroutines: 6, crashed: 1, top: "runtime.cgocall", topFile: "cgocall.go", topLine: 167},
	{name: "go1.26/panic_main.crash", kind: report.KindPanic, msg: "boom", inferred: false, goroutines: 6, crashed: 1, top: "panic", topFile: "panic.go", topLine: 879},
	{name: "go1.26/panic_busy.crash", kind: report.KindPanic, msg: "busy", inferred: false, goroutines: 9, crashed: 1, top: "panic", topFile: "panic.go", topLine: 879},
	{name: "go1.23/panic_repanic", kind: report.KindPanic, msg: "boom", inferred: false, goroutines: 1, crashed: 1, top: "main.panicRepanic.func1", topFile: "main.go", topLine: 159},
	{name: "go1.23/map_writes", kind: report.KindFatalError, msg: "", inferred: false, goroutines: 3, crashed: 17, top: "main.mapWrites.func1", topFile: "main.go", topLine: 396, createdBy: "main.mapWrites", createdIn: 1},
	{name: "go1.23/map_writes.system", kind: report.KindFatalError, msg: "concurrent map writes", inferred: true, from: "runtime.fatal called from runtime.mapass", goroutines: 8, crashed: 7, top: "runtime.fatal", topFile: "panic.go", topLine: 1094, createdBy: "main.mapWrites", createdIn: 1},
	{name: "go1.23/mutex_unlock", kind: report.KindFatalError, msg: "sync: unlock of unlocked mutex", inferred: true, from: "sync.fatal called from sync.(*Mutex).unl", goroutines: 1, crashed: 1, top: "sync.fatal", topFile: "panic.go", topLine: 1037},
	{name: "go1.23/stack_overflow", kind: report.KindFatalError, msg: "stack overflow", inferred: true, from: "runtime.throw called from runtime.newsta", goroutines: 6, crashed: 1, runtimeTop: "runtime.throw", top: "main.recurseForever", topFile: "main.go", topLine: 457},
	{name: "go1.23/oom", kind: report.KindFatalError, msg: "out of memory", inferred: true, from: "runtime.throw called from runtime.(*mcac", goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1073},
	{name: "go1.23/deadlock", kind: report.KindFatalError, msg: "all goroutines are asleep - deadlock!", inferred: true, from: "every goroutine is blocked and none is r", goroutines: 3, crashed: 0},
	{name: "go1.24/map_iter_write", kind: report.KindFatalError, msg: "concurrent map iteration and map write", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 3, crashed: 8, top: "internal/runtime/maps.fatal", topFile: "panic.go", topLine: 1058, createdBy: "main.mapIterWrite", createdIn: 1},
	{name: "go1.24/map_read_write", kind: report.KindFatalError, msg: "concurrent map access", inferred: true, from: "internal/runtime/maps.fatal called from ", goroutines: 3, crashed: 8, top: "internal/runtime/maps.fatal", topFile: "panic.go", topLine: 1058, createdBy: "main.mapReadWrite", createdIn: 1},
	{name: "go1.25/panic_repanic", kind: report.KindPanic, msg: "boom", inferred: false, goroutines: 1, crashed: 1, top: "main.panicRepanic.func1", topFile: "main.go", topLine: 159},
	{name: "go1.25/fault_addr", kind: report.KindFault, msg: "fault", inferred: true, from: "runtime.throw called from runtime.sigpan", sig: &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 0x1, Addr: 0x1000000}, fault: 0x1000000, goroutines: 6, crashed: 1, top: "runtime.throw", topFile: "panic.go", topLine: 1094},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestParseRealCrashOutput(t *testing.T) {
	for _, tc := range realCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseWith(readTestdata(t, tc.name+".crash.txt"), Hints{GOOS: "linux"})
			require.NoError(t, err)
			assert.Equal(t, tc.kind, r.Kind, "kind")
			assert.Equal(t, tc.msg, r.Message, "message")
			assert.Equal(t, tc.inferred, r.MessageInferred, "message inferred")
			if tc.inferred {
				assert.True(t, strings.HasPrefix(r.InferredFrom, tc.from), "inferred from %q", r.InferredFrom)
			} else {
				assert.Empty(t, r.InferredFrom)
			}
			if tc.sig == nil {
				assert.Nil(t, r.Signal, "signal")
			} else if assert.NotNil(t, r.Signal, "signal") {
				sig := *r.Signal
				sig.PC = 0
				assert.Equal(t, *tc.sig, sig, "signal")
			}
			assert.Equal(t, tc.fault != 0, r.UnexpectedFault, "unexpected fault")
			assert.Equal(t, tc.fault, r.FaultAddress, "fault address")
			assert.Equal(t, tc.cgo, r.CgoExecution, "cgo")
			assert.Len(t, r.Goroutines, tc.goroutines, "goroutines")
			assert.Equal(t, tc.crashed, r.CrashedGoroutine, "crashed goroutine")
			if tc.runtimeTop == "" {
				assert.Empty(t, r.RuntimeStack, "runtime stack")
			} else if assert.NotEmpty(t, r.RuntimeStack, "runtime stack") {
				assert.Equal(t, tc.runtimeTop, r.RuntimeStack[0].Function, "runtime stack top")
			}
			g := crashedGoroutine(r)
			if tc.crashed == 0 {
				assert.Nil(t, g, "no goroutine may be marked crashed")
				return
			}
			require.NotNil(t, g, "crashed goroutine")
			require.NotEmpty(t, g.Frames)
			top := g.Frames[0]
			assert.Equal(t, tc.top, top.Function, "top function")
			assert.Equal(t, tc.topFile, filepath.Base(top.File), "top file")
			assert.Equal(t, tc.topLine, top.Line, "top line")
			if tc.createdBy == "" {
				assert.Nil(t, g.CreatedBy, "created by")
			} else if assert.NotNil(t, g.CreatedBy, "created by") {
				assert.Equal(t, tc.createdBy, g.CreatedBy.Function, "created by")
				assert.Equal(t, tc.createdIn, g.CreatedByGoroutine, "created in goroutine")
				assert.NotZero(t, g.CreatedBy.Line, "created by line")
			}
		})
	}
}

func crashedGoroutine(r *Result) *report.Goroutine {
	var found *report.Goroutine
	for i := range r.Goroutines {
		if r.Goroutines[i].Crashed {
			found = &r.Goroutines[i]
		}
	}
	return found
}

// The details the table does not cover, file by file.

func TestRealPanicChains(t *testing.T) {
	for name, want := range map[string][]Panic{
		"go1.26/panic_repanic":     {{Value: "boom", Recovered: true, Repanicked: true}},
		"go1.25/panic_repanic":     {{Value: "boom", Recovered: true, Repanicked: true}},
		"go1.24/panic_repanic":     {{Value: "boom", Recovered: true}, {Value: "boom"}},
		"go1.23/panic_repanic":     {{Value: "boom", Recovered: true}, {Value: "boom"}},
		"go1.26/panic_recover_new": {{Value: "first", Recovered: true}, {Value: "second (after first)"}},
		"go1.26/panic_nested":      {{Value: "first"}, {Value: "panic in defer"}},
		"go1.25/panic_nested":      {{Value: "first"}, {Value: "panic in defer"}},
		"go1.24/panic_nested":      {{Value: "first"}, {Value: "panic in defer"}},
		"go1.23/panic_nested":      {{Value: "first"}, {Value: "panic in defer"}},
		"go1.25/panic_recover_new": {{Value: "first", Recovered: true}, {Value: "second (after first)"}},
		"go1.24/panic_recover_new": {{Value: "first", Recovered: true}, {Value: "second (after first)"}},
		"go1.23/panic_recover_new": {{Value: "first", Recovered: true}, {Value: "second (after first)"}},
		// Goexit is on the panic chain but never printed.
		"go1.26/panic_goexit":       {{Value: "panic during Goexit"}},
		"go1.23/panic_goexit":       {{Value: "panic during Goexit"}},
		"go1.26/panic_goexit_chain": {{Value: "first"}, {Value: "after Goexit"}},
		"go1.26/panic_chain": {
			{Value: "first", Recovered: true}, {Value: "second (after first)"}, {Value: "third"},
		},
		"go1.26/panic_multiline": {{Value: "first line\nsecond line\n\nfourth line after a blank"}},
		"go1.23/panic_multiline": {{Value: "first line\nsecond line\n\nfourth line after a blank"}},
		"go1.26/nil_deref":       {{Value: "runtime error: invalid memory address or nil pointer dereference"}},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(readTestdata(t, name+".crash.txt"))
			require.NoError(t, err)
			assert.Equal(t, want, r.Panics)
		})
	}
}

// TestFatalInterruptsPanicChain: a throw in a deferred call of a panic
// (runtime/testdata/testprog's panicDeferFatal and panicDoublieDeferFatal)
// prints the panic chain, then the throw on a tab-indented line. The process
// died of the throw; the panics are the chain it interrupted. The crash
// file has none of these lines (golang/go#76859): the message is inferred
// from the frames there, as for any throw.
func TestFatalInterruptsPanicChain(t *testing.T) {
	const msg = "sync: unlock of unlocked mutex"
	nilDeref := `runtime.errorString("invalid memory address or nil pointer dereference")`
	for name, want := range map[string][]Panic{
		"go1.26/panic_defer_fatal":   {{Value: nilDeref}},
		"go1.26/panic_repanic_fatal": {{Value: nilDeref, Recovered: true, Repanicked: true}},
		// The chain holds only a Goexit, which is not printed: the throw's
		// line comes first, tab and all.
		"go1.26/goexit_fatal": nil,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(readTestdata(t, name+".stderr.txt"))
			require.NoError(t, err)
			assert.Equal(t, report.KindFatalError, r.Kind)
			assert.Equal(t, msg, r.Message)
			assert.False(t, r.MessageInferred)
			assert.Equal(t, want, r.Panics)

			c, err := Parse(readTestdata(t, name+".crash.txt"))
			require.NoError(t, err)
			assert.Equal(t, report.KindFatalError, c.Kind)
			assert.Equal(t, msg, c.Message)
			assert.True(t, c.MessageInferred)
			assert.Empty(t, c.Panics)
		})
	}
}

func TestRealFrames(t *testing.T) {
	t.Run("dotted import path", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/panic_dotted.crash.txt"))
		require.NoError(t, err)
		fs := r.Goroutines[0].Frames
		require.Len(t, fs, 4)
		// The closure was inlined into main and renamed after it.
		assert.Equal(t, "main", fs[0].Package)
		assert.Equal(t, "example.com/crashgen/dotted%2ev2.(*Box).Open", fs[1].Function)
		assert.Equal(t, "example.com/crashgen/dotted.v2", fs[1].Package)
		assert.Equal(t, "...", fs[1].Args, "inlined frames print (...)")
		assert.Zero(t, fs[1].Offset, "inlined frames have no +0x")
		assert.Equal(t, uint64(0x45), fs[2].Offset)
	})
	t.Run("generic", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/panic_generic.crash.txt"))
		require.NoError(t, err)
		var fns, pkgs []string
		for _, f := range r.Goroutines[0].Frames {
			fns, pkgs = append(fns, f.Function), append(pkgs, f.Package)
		}
		assert.Equal(t, []string{"main.(*Stack[...]).Pop", "main.panicGeneric.func1", "main.Apply[...]", "main.panicGeneric", "main.main"}, fns)
		assert.Equal(t, []string{"main", "main", "main", "main", "main"}, pkgs)
	})
	t.Run("system traceback has pc", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/nil_deref.system.crash.txt"))
		require.NoError(t, err)
		require.NotNil(t, r.Signal)
		fs := r.Goroutines[0].Frames
		require.GreaterOrEqual(t, len(fs), 3)
		assert.Equal(t, "panic", fs[0].Function)
		assert.Equal(t, "runtime", fs[0].Package)
		assert.Equal(t, "runtime.panicmem", fs[1].Function)
		// The faulting instruction is the signal's pc and the pc of the
		// frame below runtime.sigpanic.
		var nilDeref report.Frame
		for _, f := range fs {
			if f.Function == "main.nilDeref" {
				nilDeref = f
			}
		}
		assert.Equal(t, r.Signal.PC, nilDeref.PC)
		for _, f := range fs {
			// Inlined frames print neither +0x nor pc=.
			assert.Equal(t, f.Offset != 0, f.PC != 0, "%s: pc and offset", f.Function)
		}
	})
	t.Run("elided", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/panic_elided.crash.txt"))
		require.NoError(t, err)
		g := r.Goroutines[0]
		assert.True(t, g.FramesElided)
		// 50 innermost and 50 outermost frames around "...N frames elided...".
		assert.Len(t, g.Frames, 100)
		assert.Equal(t, "main.main", g.Frames[len(g.Frames)-1].Function)
	})
	t.Run("stack overflow", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/stack_overflow.crash.txt"))
		require.NoError(t, err)
		var fns []string
		for _, f := range r.RuntimeStack {
			fns = append(fns, f.Function)
		}
		assert.Equal(t, []string{"runtime.throw", "runtime.newstack", "runtime.morestack"}, fns)
		g := crashedGoroutine(r)
		require.NotNil(t, g)
		assert.True(t, g.FramesElided)
		assert.NotZero(t, g.Frames[0].PC, "a throw prints pc= even at GOTRACEBACK=single")
	})
	t.Run("ancestors", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/panic_ancestors.crash.txt"))
		require.NoError(t, err)
		require.Len(t, r.Ancestors, 2)
		assert.Equal(t, int64(20), r.Ancestors[0].Goroutine)
		assert.Equal(t, int64(19), r.Ancestors[0].ID)
		assert.Equal(t, "main.panicAncestors.func1", r.Ancestors[0].Frames[0].Function)
		require.NotNil(t, r.Ancestors[0].CreatedBy)
		assert.Equal(t, "main.panicAncestors", r.Ancestors[0].CreatedBy.Function)
		assert.Equal(t, int64(1), r.Ancestors[1].ID)
		// The ancestors' frames are not the goroutine's.
		assert.Len(t, r.Goroutines[0].Frames, 1)
	})
	t.Run("wait states", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/panic_states.all.crash.txt"))
		require.NoError(t, err)
		var states []string
		locked := 0
		for _, g := range r.Goroutines {
			states = append(states, g.State)
			if g.Locked {
				locked++
			}
			assert.Positive(t, g.ID)
		}
		for _, s := range []string{"running", "chan receive", "chan send", "select", "select (no cases)", "sleep",
			"sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.WaitGroup.Wait", "sync.Cond.Wait", "IO wait", "syscall"} {
			assert.Contains(t, states, s)
		}
		assert.Equal(t, 1, locked, "one goroutine is locked to its thread")
	})
	t.Run("registers", func(t *testing.T) {
		r, err := Parse(readTestdata(t, "go1.26/cgo_segv.crash.txt"))
		require.NoError(t, err)
		require.NotNil(t, r.Signal)
		assert.Len(t, r.Registers, 21)
		assert.Equal(t, r.Signal.PC, r.Registers["rip"])
	})
	t.Run("goroutine 0 and the relay", func(t *testing.T) {
		// SIGQUIT landed on an idle thread: its g0 stack is printed as
		// "goroutine 0", and nobody crashed.
		r, err := Parse(readTestdata(t, "go1.26/sigquit.crash.crash.txt"))
		require.NoError(t, err)
		assert.Equal(t, "runtime.mstart", r.RuntimeStack[len(r.RuntimeStack)-1].Function)
		for _, g := range r.Goroutines {
			assert.Positive(t, g.ID)
		}
		// On stderr the other threads follow "-----"; their signal
		// headers and registers must not replace the first ones.
		e, err := Parse(readTestdata(t, "go1.26/sigquit.crash.stderr.txt"))
		require.NoError(t, err)
		assert.Equal(t, r.Signal, e.Signal)
		assert.Equal(t, r.Registers, e.Registers)
		assert.Len(t, e.Goroutines, len(r.Goroutines))
	})
}

// knownUninferable are the crash outputs from which no message can be
// inferred: at GOTRACEBACK=single the runtime hides every runtime frame of
// a fatal (not a throw) on a user goroutine, which leaves only user code.
// On Go 1.23 that is how every map fatal error looks; on every release,
// "go of nil func value".
var knownUninferable = regexp.MustCompile(`^go1\.23/map_(writes|read_write|iter_write)$|/go_nil_func$`)

// TestCrashOutputMatchesStderr parses both copies of every crash in
// testdata: they must agree on everything that is in both, and what Parse
// infers from the SetCrashOutput copy must be what stderr says.
func TestCrashOutputMatchesStderr(t *testing.T) {
	files, err := filepath.Glob("testdata/go1.*/*.crash.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	inferred := 0
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "testdata/"), ".crash.txt")
		t.Run(name, func(t *testing.T) {
			crash, err := Parse(readTestdata(t, name+".crash.txt"))
			require.NoError(t, err)
			stderr, err := Parse(readTestdata(t, name+".stderr.txt"))
			require.NoError(t, err)

			assert.False(t, stderr.MessageInferred, "stderr has the message")
			assert.Equal(t, stderr.Kind, crash.Kind, "kind")
			assert.Equal(t, stderr.Signal, crash.Signal, "signal")
			assert.Equal(t, stderr.UnexpectedFault, crash.UnexpectedFault, "unexpected fault")
			assert.Equal(t, stderr.FaultAddress, crash.FaultAddress, "fault address")
			assert.Equal(t, stderr.CgoExecution, crash.CgoExecution, "cgo")
			if stderr.Kind == report.KindFatalError && len(stderr.Panics) > 0 {
				// runtime.fatal prints the panic chain it interrupts
				// together with its own "fatal error:" line, before the
				// process starts dying: on stderr only (golang/go#76859).
				assert.Empty(t, crash.Panics, "panics")
			} else {
				assert.Equal(t, stderr.Panics, crash.Panics, "panics")
			}
			assert.Equal(t, stderr.CrashedGoroutine, crash.CrashedGoroutine, "crashed goroutine")
			assert.Equal(t, goroutineIDs(stderr), goroutineIDs(crash), "goroutines")
			assert.Equal(t, stderr.RuntimeStack, crash.RuntimeStack, "runtime stack")
			if g := crashedGoroutine(crash); g != nil {
				assert.Equal(t, crashedGoroutine(stderr).Frames, g.Frames, "crashed goroutine's frames")
			}

			switch {
			case !crash.MessageInferred:
				if crash.Message == "" {
					assert.Regexp(t, knownUninferable, name, "no message inferred for %q", stderr.Message)
				} else {
					assert.Equal(t, stderr.Message, crash.Message)
				}
			case crash.Message == msgMapFamily:
				assert.Contains(t, []string{msgMapWrites, msgMapRead, msgMapIter}, stderr.Message)
			case crash.Message == msgPrintPanic:
				// The runtime appends what the String method panicked with.
				assert.True(t, strings.HasPrefix(stderr.Message, msgPrintPanic+": "), stderr.Message)
			default:
				assert.Equal(t, stderr.Message, crash.Message, "inferred from %s", crash.InferredFrom)
			}
			if crash.MessageInferred {
				inferred++
			}
		})
	}
	assert.Greater(t, inferred, 40, "most throws are recognised")
}

func goroutineIDs(r *Result) []int64 {
	var ids []int64
	for _, g := range r.Goroutines {
		ids = append(ids, g.ID)
	}
	return ids
}

// TestCrashOutputOmits records golang/go#76859 as observed on Go 1.23 to
// 1.26: every line the runtime prints before it starts dying is on stderr
// only. If a Go release fixes it, the regenerated testdata fails here and
// the package doc should change.
func TestCrashOutputOmits(t *testing.T) {
	files, err := filepath.Glob("testdata/go1.*/*.stderr.txt")
	require.NoError(t, err)
	omitted := map[string]int{}
	for _, f := range files {
		stderr := string(readTestdata(t, strings.TrimPrefix(filepath.ToSlash(f), "testdata/")))
		crash := string(readTestdata(t, strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "testdata/"), ".stderr.txt")+".crash.txt"))
		for _, line := range strings.Split(stderr, "\n") {
			for _, prefix := range omittedPrefixes {
				if strings.HasPrefix(line, prefix) {
					assert.False(t, strings.Contains(crash, line), "%s: the crash output has %q", f, line)
					omitted[prefix]++
				}
			}
		}
		// With GOTRACEBACK=crash the other threads print their own
		// "SIGQUIT: quit", "PC=..." after "-----": on stderr only.
		if n := strings.Count(stderr, "\nPC=0x"); n > 1 {
			assert.LessOrEqual(t, strings.Count("\n"+crash, "\nPC=0x"), 1, f)
			omitted["relay"]++
		}
		// Everything else the crash output has, stderr has too, in order.
		assert.True(t, isSubsequence(strings.Split(crash, "\n"), strings.Split(stderr, "\n")), "%s: crash output is not a part of stderr", f)
	}
	for _, what := range append(omittedPrefixes, "relay") {
		assert.Positive(t, omitted[what], "testdata shows %q missing", what)
	}
}

// "\tfatal error: " is a throw in a deferred call of a panic; the panic
// chain printed before it is missing as well (TestFatalInterruptsPanicChain).
var omittedPrefixes = []string{"fatal error: ", "\tfatal error: ", "runtime: ", "unexpected fault address "}

func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub) && !slices.Equal(sub, nil)
}
