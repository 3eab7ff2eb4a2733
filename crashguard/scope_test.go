//go:build unix

package crashguard

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// TestScopeInCrashEvent: a program sets a user, two tags, a context and
// three breadcrumbs through sentry-go, waits until its scope file shows
// them, and crashes (a panic, a concurrent-map fatal error); the event at
// the receiver has all of them, exactly, with the crash's own level,
// exception and threads, and validates against Sentry's schema. With
// crashguard.BeforeBreadcrumb in the program's options, a breadcrumb added
// right before the crash (in no snapshot) is there too.
func TestScopeInCrashEvent(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		cgo, exact bool
		kind       report.Kind
		value      string
	}{
		{"panic", "panic", true, false, report.KindPanic, "scopecrash: checkout failed"},
		{"panic-nocgo-exact", "panic", false, true, report.KindPanic, "scopecrash: checkout failed"},
		{"concurrent-map-exact", "concurrent-map", true, true, report.KindFatalError, "concurrent map writes"},
		{"concurrent-map-nocgo", "concurrent-map", false, false, report.KindFatalError, "concurrent map writes"},
		// Killed by the signal itself: Go forwards a fault on a thread it
		// did not create to the default action.
		{"c-null-pthread-exact", "c-null-pthread", true, true, report.KindFault, "Segfault at 0x0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, r := scopeCrash(t, c.mode, c.cgo, c.exact, nil)
			assert.Equal(t, c.kind, r.Kind)
			assertScopeEvent(t, ev, c.exact)
			assert.Contains(t, exceptionValues(ev), c.value)
		})
	}
}

// TestScopeDeadlockStillDetected: without cgo, where Go's deadlock
// detector works, the snapshotter's timer does not keep it silent: the
// program that deadlocks after its snapshot still dies of "all goroutines
// are asleep", and the event carries its scope. The program has no
// sentry-go client (whose pending timer silences the detector for good).
// It dies once the snapshotter has parked, ten unchanged looks after the
// snapshot (13 s here): a slow test.
func TestScopeDeadlockStillDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the snapshotter parks after ten unchanged looks")
	}
	start := time.Now()
	ev, r := scopeCrash(t, "deadlock", false, false, []string{"GODEBUG=updatemaxprocs=0"})
	t.Logf("deadlock detected %s after start", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, report.KindFatalError, r.Kind)
	assert.Equal(t, "all goroutines are asleep - deadlock!", r.Message)
	assertScopeEvent(t, ev, false)
}

// scopeCrash runs scopecrash in mode and returns the event the receiver
// got for its crash, and the report.
func scopeCrash(t *testing.T, mode string, cgo, exact bool, env []string) (map[string]any, *report.Report) {
	t.Helper()
	bin := testprogCgo(t, "scopecrash", cgo)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	if exact {
		env = append(env, "SCOPECRASH_EXACT=1")
	}
	got := runChild(t, bin, dir, env, mode)
	require.NotEqual(t, 67, got.exit, "Install started no scope snapshots (no scope file):\n%s", got.stderr)
	require.Contains(t, got.stdout, "scopecrash: crashing", "stderr:\n%s", got.stderr)
	if strings.HasPrefix(mode, "c-") {
		assert.Equal(t, syscall.SIGSEGV, got.signal, "stderr:\n%s", got.stderr)
	} else {
		assert.Equal(t, 2, got.exit, "stderr:\n%s", got.stderr)
	}

	g := newTestGuard(t, dir, recv.DSN())
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "child stderr:\n%s", got.stderr)
	r, err := g.outbox.Load(pending[0].EventID)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, g.Flush(ctx))
	ev := waitEvent(t, recv, r.EventID)
	require.NoError(t, ev.SchemaErr, "the event validates against Sentry's schema")
	return ev.Event, r
}

func assertScopeEvent(t *testing.T, ev map[string]any, exact bool) {
	t.Helper()
	assert.Equal(t, "fatal", ev["level"])
	assert.Equal(t, map[string]any{"id": "user-42", "email": "ada@example.com"}, ev["user"])
	tags, _ := ev["tags"].(map[string]any)
	assert.Equal(t, "eu-west", tags["region"])
	assert.Equal(t, "7", tags["shard"])
	assert.Equal(t, map[string]any{"id": json.Number("1234"), "total": "99.90"}, dig(ev, "contexts", "order"))
	var msgs []string
	values, _ := dig(ev, "breadcrumbs")["values"].([]any)
	for i := range values {
		b := dig(values, i)
		assert.Equal(t, "checkout", b["category"])
		assert.NotEmpty(t, b["timestamp"])
		msgs = append(msgs, b["message"].(string))
	}
	want := []string{"step 1", "step 2", "step 3"}
	if exact {
		want = append(want, "last words")
	}
	assert.Equal(t, want, msgs)
	scope := dig(ev, "contexts", "crashguard", "scope")
	require.NotNil(t, scope)
	n, _ := scope["age_seconds"].(json.Number)
	age, err := n.Float64()
	assert.True(t, err == nil && age >= 0 && age < 30, "snapshot age %v", scope["age_seconds"])
	if exact {
		// "last words" at least; the first three only when the file
		// existed before they were added (it is made in the background),
		// else they came through the snapshot.
		assert.GreaterOrEqual(t, num(scope["ring_breadcrumbs"]), int64(1))
	}
	gr := dig(ev, "contexts", "go_runtime")
	require.NotNil(t, gr)
	assert.NotZero(t, gr["gomaxprocs_at_start"])
	assert.NotZero(t, gr["heap_in_use"])
	assert.NotZero(t, gr["goroutines"])
	assert.NotNil(t, dig(ev, "contexts", "crashguard")["uptime_seconds"])
	assert.NotEmpty(t, dig(ev, "exception")["values"])
	assert.NotEmpty(t, dig(ev, "threads")["values"])
}

func exceptionValues(ev map[string]any) string {
	var out []string
	values, _ := dig(ev, "exception")["values"].([]any)
	for i := range values {
		if v, ok := dig(values, i)["value"].(string); ok {
			out = append(out, v)
		}
	}
	return strings.Join(out, "\n")
}
