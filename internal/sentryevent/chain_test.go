package sentryevent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

// realReport makes the report of a real crash output from
// internal/traceback/testdata (NAME is "go1.26/panic_chain.crash" or
// ".stderr"), filled as the collector fills it; frames of package main are
// in-app.
func realReport(t *testing.T, name string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "traceback", "testdata", name+".txt"))
	require.NoError(t, err)
	res, err := traceback.Parse(b)
	require.NoError(t, err)
	r := &report.Report{
		FormatVersion:    report.FormatVersion,
		EventID:          testEventID,
		RunID:            "run-1",
		Kind:             res.Kind,
		Message:          res.Message,
		MessageInferred:  res.MessageInferred,
		InferredFrom:     res.InferredFrom,
		Panics:           res.Panics,
		Signal:           res.Signal,
		Goroutines:       res.Goroutines,
		CrashedGoroutine: res.CrashedGoroutine,
		Process:          baseProcess("linux", "amd64"),
		CrashOutput:      string(b),
	}
	for gi := range r.Goroutines {
		for fi := range r.Goroutines[gi].Frames {
			f := &r.Goroutines[gi].Frames[fi]
			f.InApp = f.Package == "main"
		}
	}
	return r
}

// excView is what the chain tests compare of one exception.
type excView struct {
	Type, Value string
	Mechanism   string
	Handled     *bool
	Data        map[string]any
	ID          *int
	Parent      *int
	Group       bool
	Source      string
	Frames      []string // oldest first, as in the event
	ThreadID    string
}

func viewExceptions(ev tEvent) []excView {
	var out []excView
	for _, e := range ev.Exception.Values {
		m := e.Mechanism
		out = append(out, excView{
			Type: e.Type, Value: e.Value,
			Mechanism: m.Type, Handled: m.Handled, Data: m.Data,
			ID: m.ExceptionID, Parent: m.ParentID,
			Group:  m.IsExceptionGroup != nil && *m.IsExceptionGroup,
			Source: m.Source,
			Frames: frameNames(e.Stacktrace), ThreadID: e.ThreadID.String(),
		})
	}
	return out
}

// buildReal builds and validates the event of a real crash output.
func buildReal(t *testing.T, name string) tEvent {
	t.Helper()
	b, err := Build(realReport(t, name), Options{})
	require.NoError(t, err)
	requireValidEvent(t, b)
	return decodeEvent(t, b)
}

var recovered = map[string]any{"recovered": true}

// TestPanicChainEvent: every panic Go printed is an exception, the first
// panic first, each with the stack it was raised on, and a root exception
// group that makes Sentry title and group the event by the first panic (see
// chainExceptions for why this shape).
func TestPanicChainEvent(t *testing.T) {
	tests := []struct {
		name string
		want []excView
	}{
		{"go1.26/panic_chain.crash", []excView{
			{Type: "panic", Value: "first", Mechanism: MechanismPanic, Handled: ptr(true), Data: recovered,
				ID: ptr(3), Parent: ptr(0),
				Frames: []string{"main.main", "main.panicChain"}, ThreadID: "1"},
			{Type: "panic", Value: "second (after first)", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(2), Parent: ptr(3), Source: "defer",
				Frames: []string{"main.main", "main.panicChain", "panic", "main.panicChain.func2"}, ThreadID: "1"},
			{Type: "panic", Value: "third", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.main", "main.panicChain", "panic", "main.panicChain.func2", "panic", "main.panicChain.func1"}, ThreadID: "1"},
			{Type: "panic", Value: "first", Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
		{"go1.26/panic_nested.crash", []excView{
			{Type: "panic", Value: "first", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(2), Parent: ptr(0),
				Frames: []string{"main.main", "main.panicNested"}, ThreadID: "1"},
			{Type: "panic", Value: "panic in defer", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.main", "main.panicNested", "panic", "main.panicNested.func1"}, ThreadID: "1"},
			{Type: "panic", Value: "first", Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
		// Go 1.23 prints the same chain the same way.
		{"go1.23/panic_nested.crash", []excView{
			{Type: "panic", Value: "first", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(2), Parent: ptr(0),
				Frames: []string{"main.main", "main.panicNested"}, ThreadID: "1"},
			{Type: "panic", Value: "panic in defer", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.main", "main.panicNested", "panic", "main.panicNested.func1"}, ThreadID: "1"},
			{Type: "panic", Value: "first", Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
		// Before Go 1.25 a recovered value panicked again is printed twice.
		{"go1.24/panic_repanic.crash", []excView{
			{Type: "panic", Value: "boom", Mechanism: MechanismPanic, Handled: ptr(true), Data: recovered,
				ID: ptr(2), Parent: ptr(0),
				Frames: []string{"main.main", "main.panicRepanic"}, ThreadID: "1"},
			{Type: "panic", Value: "boom", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.main", "main.panicRepanic", "panic", "main.panicRepanic.func1"}, ThreadID: "1"},
			{Type: "panic", Value: "boom", Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
		// Go 1.25+ prints it once: one exception, as for any panic, saying
		// what Go printed.
		{"go1.26/panic_repanic.crash", []excView{
			{Type: "panic", Value: "boom", Mechanism: MechanismPanic, Handled: ptr(false),
				Data: map[string]any{"recovered": true, "repanicked": true}, ID: ptr(0),
				Frames: []string{"main.main", "main.panicRepanic", "panic", "main.panicRepanic.func1"}, ThreadID: "1"},
		}},
		// runtime.Goexit between the two panics is not printed; its frame
		// stays in the stack of the panic that came after it.
		{"go1.26/panic_goexit_chain.crash", []excView{
			{Type: "panic", Value: "first", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(2), Parent: ptr(0),
				Frames: []string{"main.panicGoexitChain.func1"}, ThreadID: "5"},
			{Type: "panic", Value: "after Goexit", Mechanism: MechanismPanic, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.panicGoexitChain.func1", "panic", "runtime.Goexit", "main.panicGoexitChain.func1.1"}, ThreadID: "5"},
			{Type: "panic", Value: "first", Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
		// A throw in a deferred call of a panic (stderr copy: the crash
		// file lacks the chain). The process died of the throw, which ends
		// the chain; the panic it interrupted leads.
		{"go1.26/panic_repanic_fatal.stderr", []excView{
			{Type: "panic", Value: `runtime.errorString("invalid memory address or nil pointer dereference")`,
				Mechanism: MechanismPanic, Handled: ptr(true),
				Data: map[string]any{"recovered": true, "repanicked": true}, ID: ptr(2), Parent: ptr(0),
				Frames: []string{"main.main", "main.panicRepanicFatal"}, ThreadID: "1"},
			{Type: "fatal error", Value: "sync: unlock of unlocked mutex", Mechanism: MechanismFatal, Handled: ptr(false),
				ID: ptr(1), Parent: ptr(2), Source: "defer",
				Frames: []string{"main.main", "main.panicRepanicFatal", "panic", "main.panicRepanicFatal.func1", "panic",
					"sync.(*Mutex).Unlock", "internal/sync.(*Mutex).Unlock", "internal/sync.(*Mutex).unlockSlow", "internal/sync.fatal"},
				ThreadID: "1"},
			{Type: "panic", Value: `runtime.errorString("invalid memory address or nil pointer dereference")`,
				Mechanism: MechanismChain, Handled: ptr(false), ID: ptr(0), Group: true, ThreadID: ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, viewExceptions(buildReal(t, tc.name)))
		})
	}
}

// TestFatalChainKeepsSignal: the signal line stays evidence on the
// exception of what killed the process, as without a chain.
func TestFatalChainKeepsSignal(t *testing.T) {
	ev := buildReal(t, "go1.26/panic_defer_fatal.stderr")
	require.Len(t, ev.Exception.Values, 3)
	assert.Nil(t, ev.Exception.Values[0].Mechanism.Meta)
	fatal := ev.Exception.Values[1]
	assert.Equal(t, "fatal error", fatal.Type)
	require.NotNil(t, fatal.Mechanism.Meta)
	assert.Equal(t, &tSignal{Number: ptr(11), Code: 1, Name: "SIGSEGV", CodeName: "SEGV_MAPERR"}, fatal.Mechanism.Meta.Signal)
	assert.Equal(t, []string{"main.main", "main.panicDeferFatal"}, frameNames(ev.Exception.Values[0].Stacktrace))
}

// TestPanicChainElidedFrames: when the crashed goroutine holds fewer
// "panic" frames than the chain needs, the older panics get no stack
// rather than a wrong one.
func TestPanicChainElidedFrames(t *testing.T) {
	r := realReport(t, "go1.26/panic_chain.crash")
	g := &r.Goroutines[0]
	// Drop the frames below the second "panic" frame, as an elision would.
	g.Frames = g.Frames[:3]
	b, err := Build(r, Options{})
	require.NoError(t, err)
	requireValidEvent(t, b)
	v := viewExceptions(decodeEvent(t, b))
	require.Len(t, v, 4)
	assert.Nil(t, v[0].Frames)
	assert.Equal(t, []string{"main.panicChain.func2"}, v[1].Frames)
	assert.Equal(t, []string{"main.panicChain.func2", "panic", "main.panicChain.func1"}, v[2].Frames)
}
