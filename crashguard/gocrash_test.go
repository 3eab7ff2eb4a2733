//go:build unix

package crashguard

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

const crashesGo = "../testprogs/gocrash/crashes.go"

// goCrash is one way for gocrash to end, and what the report must say.
type goCrash struct {
	mode string
	env  []string
	// nocgoOnly: the case cannot happen in a cgo binary (deadlock).
	nocgoOnly bool
	// slow: the case takes a minute (Go's deadlock detector waits ~60s in
	// a binary importing sentry-go v0.50, with or without crashguard, unless
	// GODEBUG=updatemaxprocs=0 or GOGC=off; see README), so its baseline
	// run is skipped; the table holds the baseline status.
	slow bool
	// exit status and killing signal, as without crashguard.
	exit   int
	signal syscall.Signal
	// nil want means: no report at all.
	want *wantReport
}

type wantReport struct {
	kind      report.Kind
	message   string
	inferred  bool
	signal    string // signal line name, "" when none
	sigAddr   uint64
	topInApp  string // function of the innermost in-app frame of the crashed goroutine
	topLineOf string // text on that frame's line in crashes.go
	createdBy string // created-by function of the crashed goroutine, "" for main
	excType   string // Sentry exception type
	excValue  string // Sentry exception value
	mechanism string
	// mechanismCgo, when set, is the mechanism with the native layer: the
	// fault record matching the signal line makes it a signalhandler event.
	mechanismCgo string
	// noCrashedGoroutine: no goroutine crashed (deadlock).
	noCrashedGoroutine bool
}

func goCrashes() []goCrash {
	return []goCrash{
		{mode: "panic-main", exit: 2, want: &wantReport{
			kind: report.KindPanic, message: "gocrash: deliberate panic in main",
			topInApp: "main.panicMain", topLineOf: `panic(errors.New("gocrash: deliberate panic in main"))`,
			excType: "panic", excValue: "gocrash: deliberate panic in main", mechanism: "go.panic"}},
		{mode: "panic-goroutine", exit: 2, want: &wantReport{
			kind: report.KindPanic, message: "runtime error: index out of range [5] with length 3",
			topInApp: "main.worker", topLineOf: "fmt.Println(items[i])", createdBy: "main.panicGoroutine",
			excType: "runtime.boundsError", excValue: "runtime error: index out of range [5] with length 3", mechanism: "go.panic"}},
		{mode: "nil-deref", exit: 2, want: &wantReport{
			kind: report.KindPanic, message: "runtime error: invalid memory address or nil pointer dereference",
			signal: "SIGSEGV", sigAddr: 0, topInApp: "main.nilDeref", topLineOf: "a.balance++",
			excType: "runtime.errorString", excValue: "runtime error: invalid memory address or nil pointer dereference", mechanism: "go.panic"}},
		{mode: "fault-addr", exit: 2, want: &wantReport{
			// "fault" is the runtime's own fatal error text; the address is
			// in the signal and the Sentry value.
			kind: report.KindFault, message: "fault", inferred: true,
			signal: "SIGSEGV", sigAddr: 0xdead0000, topInApp: "main.faultAddr", topLineOf: "*p = 1",
			excType: "SIGSEGV", excValue: "Segfault at 0xdead0000", mechanism: "go.fault", mechanismCgo: "signalhandler"}},
		{mode: "concurrent-map", exit: 2, want: &wantReport{
			kind: report.KindFatalError, message: "concurrent map writes", inferred: true,
			topInApp: "main.concurrentMap.func1", topLineOf: "m[i%64] = i", createdBy: "main.concurrentMap",
			excType: "fatal error", excValue: "concurrent map writes", mechanism: "go.fatal"}},
		{mode: "deadlock", nocgoOnly: true, slow: true, exit: 2, want: &wantReport{
			kind: report.KindFatalError, message: "all goroutines are asleep - deadlock!", inferred: true, noCrashedGoroutine: true,
			topInApp: "main.deadlock", topLineOf: "<-ch",
			excType: "fatal error", excValue: "all goroutines are asleep - deadlock!", mechanism: "go.fatal"}},
		{mode: "stack-overflow", exit: 2, want: &wantReport{
			kind: report.KindFatalError, message: "stack overflow", inferred: true,
			topInApp: "main.recurse", topLineOf: "func recurse(n int) int {",
			excType: "fatal error", excValue: "stack overflow", mechanism: "go.fatal"}},
		{mode: "oom", exit: 2, want: &wantReport{
			kind: report.KindFatalError, message: "out of memory", inferred: true,
			topInApp: "main.outOfMemory", topLineOf: "b := make([]byte, 64<<20)",
			excType: "fatal error", excValue: "out of memory", mechanism: "go.fatal"}},
		{mode: "panic-main", env: []string{"GOTRACEBACK=crash"}, exit: -1, signal: syscall.SIGABRT, want: &wantReport{
			kind: report.KindPanic, message: "gocrash: deliberate panic in main",
			topInApp: "main.panicMain", topLineOf: `panic(errors.New("gocrash: deliberate panic in main"))`,
			excType: "panic", excValue: "gocrash: deliberate panic in main", mechanism: "go.panic"}},
		{mode: "recovered", exit: 0},
		{mode: "exit3", exit: 3},
		{mode: "return", exit: 0},
		{mode: "sigkill", exit: -1, signal: syscall.SIGKILL},
	}
}

func (c goCrash) name() string {
	if len(c.env) > 0 {
		return c.mode + "/" + strings.Join(c.env, ",")
	}
	return c.mode
}

// newTestGuard is what the next start of a program does over dir: a Guard
// that collects and delivers, without capturing the test process itself.
func newTestGuard(t *testing.T, dir, dsn string) *Guard {
	t.Helper()
	opts := Options{Dir: dir, Sentry: sentry.ClientOptions{Dsn: dsn}}
	s := resolve(opts)
	require.NoError(t, s.dsnErr)
	s.dirs = []string{dir} // hermetic: no fallback under the real temp dir
	g, err := open(opts, s)
	require.NoError(t, err)
	return g
}

func TestGoCrashesBecomeExactlyOneAccurateReport(t *testing.T) {
	for _, cgo := range []bool{false, true} {
		t.Run(map[bool]string{false: "nocgo", true: "cgo"}[cgo], func(t *testing.T) {
			testGoCrashes(t, cgo)
		})
	}
}

func testGoCrashes(t *testing.T, cgo bool) {
	bin := testprogCgo(t, "gocrash", cgo)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	host, _ := os.Hostname()
	for _, c := range goCrashes() {
		if c.nocgoOnly && cgo {
			continue
		}
		if c.mode == "oom" && runtime.GOOS != "linux" {
			continue // RLIMIT_AS bounds the heap only on Linux; elsewhere it would eat the machine
		}
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			got := runChild(t, bin, dir, c.env, c.mode)
			require.Contains(t, got.stdout, "gocrash: installed run=", "stderr:\n%s", got.stderr)
			assert.Equal(t, c.exit, got.exit, "exit status")
			assert.Equal(t, c.signal, got.signal, "killing signal")
			if !c.slow {
				baseline := runChild(t, bin, t.TempDir(), append([]string{"CRASHGUARD_DISABLE=1"}, c.env...), c.mode)
				assert.Equal(t, baseline.exit, got.exit, "crashguard must not change the exit status")
				assert.Equal(t, baseline.signal, got.signal, "crashguard must not change the killing signal")
			}

			g := newTestGuard(t, dir, recv.DSN())
			pending, err := g.Pending()
			require.NoError(t, err)
			if c.want == nil {
				assert.Empty(t, pending, "a run that did not crash leaves no report")
				ids, err := runfile.List(filepath.Join(dir, "runs"))
				require.NoError(t, err)
				assert.Empty(t, ids, "its files are removed")
				return
			}
			require.Len(t, pending, 1, "exactly one report; child stderr:\n%s", got.stderr)
			r, err := g.outbox.Load(pending[0].EventID)
			require.NoError(t, err)
			assertGoReport(t, c, r, got, bin, host)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, g.Flush(ctx))
			ev := waitEvent(t, recv, r.EventID)
			assertGoEvent(t, c, r, ev, cgo)

			left, err := g.Pending()
			require.NoError(t, err)
			assert.Empty(t, left, "a delivered report leaves the outbox")
		})
	}
}

func assertGoReport(t *testing.T, c goCrash, r *report.Report, child childResult, bin, host string) {
	t.Helper()
	w := c.want
	assert.Equal(t, report.FormatVersion, r.FormatVersion)
	assert.Regexp(t, "^[0-9a-f]{32}$", r.EventID)
	assert.Equal(t, w.kind, r.Kind)
	assert.Equal(t, w.message, r.Message, "crash output:\n%s", r.CrashOutput)
	assert.Equal(t, w.inferred, r.MessageInferred)
	if w.inferred {
		assert.NotEmpty(t, r.InferredFrom, "an inferred message names its evidence")
	}
	if w.signal == "" {
		assert.Nil(t, r.Signal)
	} else if assert.NotNil(t, r.Signal) {
		assert.Equal(t, w.signal, r.Signal.Name)
		assert.Equal(t, 11, r.Signal.Number)
		assert.Equal(t, w.sigAddr, r.Signal.Addr)
		assert.NotZero(t, r.Signal.PC)
	}

	p := r.Process
	assert.Equal(t, child.pid, p.PID)
	assert.Equal(t, bin, p.Executable)
	assert.Equal(t, host, p.Hostname)
	assert.Equal(t, runtime.Version(), p.GoVersion)
	assert.Equal(t, runtime.GOOS, p.GOOS)
	assert.Equal(t, runtime.GOARCH, p.GOARCH)
	assert.False(t, p.StartTime.IsZero())
	assert.False(t, p.CrashTime.Before(p.StartTime), "crash %s before start %s", p.CrashTime, p.StartTime)
	if assert.NotNil(t, p.Build) {
		assert.Equal(t, "github.com/crashguard/crashguard-go", p.Build.MainPath)
		assert.Contains(t, p.Build.Deps, "github.com/getsentry/sentry-go")
	}
	wantTraceback := "single"
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "GOTRACEBACK="); ok {
			wantTraceback = v
		}
	}
	assert.Equal(t, wantTraceback, p.Traceback, "the program's own GOTRACEBACK is kept")
	assert.NotEmpty(t, r.CrashOutput)
	assert.False(t, r.CrashOutputTruncated)

	var crashed *report.Goroutine
	for i := range r.Goroutines {
		if r.Goroutines[i].Crashed {
			require.Nil(t, crashed, "one crashed goroutine")
			crashed = &r.Goroutines[i]
		}
	}
	if w.noCrashedGoroutine {
		// A deadlock: every goroutine blocked, none crashed. Goroutine 1
		// (main) is where the program is stuck.
		assert.Nil(t, crashed)
		assert.Zero(t, r.CrashedGoroutine)
		require.NotEmpty(t, r.Goroutines)
		crashed = &r.Goroutines[0]
		assert.Equal(t, int64(1), crashed.ID)
	}
	require.NotNil(t, crashed, "the crashed goroutine is marked")
	if !w.noCrashedGoroutine {
		assert.Equal(t, r.CrashedGoroutine, crashed.ID)
	}
	top := topInApp(crashed.Frames)
	require.NotNil(t, top, "an in-app frame in the crashed goroutine")
	assert.Equal(t, w.topInApp, top.Function)
	assert.Equal(t, "main", top.Package)
	assert.Equal(t, "crashes.go", filepath.Base(top.File))
	assert.Equal(t, lineOf(t, crashesGo, w.topLineOf), top.Line)
	if w.createdBy == "" {
		assert.Nil(t, crashed.CreatedBy)
	} else if assert.NotNil(t, crashed.CreatedBy) {
		assert.Equal(t, w.createdBy, crashed.CreatedBy.Function)
		assert.True(t, crashed.CreatedBy.InApp)
	}
	for _, f := range crashed.Frames {
		assert.Equal(t, f.Package == "main", f.InApp, "in_app of %s", f.Function)
	}
}

func topInApp(frames []report.Frame) *report.Frame {
	for i := range frames {
		if frames[i].InApp {
			return &frames[i]
		}
	}
	return nil
}

func waitEvent(t *testing.T, recv *sentrytest.Server, id string) sentrytest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := 1; ; n++ {
		evs, err := recv.WaitEvents(ctx, n)
		require.NoError(t, err, "event %s never arrived", id)
		for _, e := range evs {
			if e.EventID == id {
				return e
			}
		}
	}
}

func assertGoEvent(t *testing.T, c goCrash, r *report.Report, ev sentrytest.Received, cgo bool) {
	t.Helper()
	w := c.want
	require.NoError(t, ev.SchemaErr, "the event validates against Sentry's schema")
	e := ev.Event
	assert.Equal(t, r.EventID, e["event_id"])
	assert.Equal(t, "fatal", e["level"])
	assert.Equal(t, "go", e["platform"])
	exc := dig(e, "exception", "values", 0)
	assert.Equal(t, w.excType, exc["type"])
	assert.Equal(t, w.excValue, exc["value"])
	mech := dig(exc, "mechanism")
	wantMech := w.mechanism
	if cgo && w.mechanismCgo != "" {
		wantMech = w.mechanismCgo
	}
	assert.Equal(t, wantMech, mech["type"])
	assert.Equal(t, false, mech["handled"])

	frames := dig(exc, "stacktrace")["frames"].([]any)
	require.NotEmpty(t, frames)
	var lastInApp map[string]any
	for _, f := range frames {
		if fm := f.(map[string]any); fm["in_app"] == true {
			lastInApp = fm
		}
	}
	require.NotNil(t, lastInApp, "frames are oldest first; the innermost in-app frame is the last in-app one")
	assert.Equal(t, "main", lastInApp["module"])
	assert.Equal(t, strings.TrimPrefix(w.topInApp, "main."), lastInApp["function"])
	assert.EqualValues(t, lineOf(t, crashesGo, w.topLineOf), num(lastInApp["lineno"]))

	threads := dig(e, "threads")["values"].([]any)
	assert.Len(t, threads, len(r.Goroutines))
	crashedThreads := 0
	for _, th := range threads {
		if th.(map[string]any)["crashed"] == true {
			crashedThreads++
			assert.EqualValues(t, r.CrashedGoroutine, num(th.(map[string]any)["id"]))
		}
	}
	if w.noCrashedGoroutine {
		assert.Equal(t, 0, crashedThreads)
	} else {
		assert.Equal(t, 1, crashedThreads)
	}

	assert.Equal(t, map[string]string{"linux": "Linux", "darwin": "macOS"}[runtime.GOOS], dig(e, "contexts", "os")["name"])
	assert.Equal(t, "go", dig(e, "contexts", "runtime")["name"])
	assert.Equal(t, runtime.Version(), dig(e, "contexts", "runtime")["version"])
	assert.Equal(t, "sentry.go.crashguard", dig(e, "sdk")["name"])
	require.Len(t, ev.Attachments, 1)
	assert.Equal(t, "go-crash-output.txt", ev.Attachments[0].Filename)
	assert.Equal(t, r.CrashOutput, string(ev.Attachments[0].Data))
}

// dig walks a decoded JSON document by keys and indexes to an object.
func dig(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return map[string]any{}
			}
			v = l[k]
		}
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// num converts a decoded JSON number (json.Number or float64) to int64.
func num(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return i
	}
	return -1
}
