package sentryevent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// scopeReport is panicReport with a scope snapshot and runtime record.
func scopeReport() *report.Report {
	r := panicReport()
	taken := crashTime.Add(-1500 * time.Millisecond)
	r.Scope = &report.Scope{
		Taken:   taken,
		Written: taken.Add(-time.Minute),
		User:    &report.User{ID: "u-42", Email: "u@example.com", Data: map[string]string{"plan": "pro"}},
		Tags:    map[string]string{"region": "eu", "team": "payments"},
		Contexts: map[string]map[string]any{
			"order":      {"id": float64(7)},
			"runtime":    {"name": "scope-runtime", "build": "x"},
			"crashguard": {"kind": "forged"},
			"trace":      {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef"},
		},
		Level:       "warning",
		Fingerprint: []string{"{{ default }}", "checkout"},
		Breadcrumbs: []report.Breadcrumb{
			{Timestamp: taken.Add(-3 * time.Second), Category: "auth", Message: "login", Level: "info"},
			{Timestamp: taken.Add(-2 * time.Second), Type: "http", Category: "http", Data: map[string]any{"url": "https://example.com/pay", "status_code": float64(502)}},
			{Timestamp: taken.Add(-time.Second), Category: "step", Message: "charge", Level: "error"},
		},
		RingBreadcrumbs: 1,
		Seq:             4,
	}
	r.Runtime = &report.Runtime{
		Settings: &report.RuntimeSettings{GOMAXPROCS: 2, NumCPU: 8, GOMEMLIMIT: 1 << 30, GOGC: 50, GODEBUG: "madvdontneed=1",
			Cgroup: &report.Cgroup{Version: 2, Path: "/svc", MemoryMax: 2 << 30, CPUQuota: 1.5}},
		Sample: &report.RuntimeSample{Taken: crashTime.Add(-3 * time.Second), HeapInUse: 1 << 20, HeapGoal: 4 << 20,
			TotalMemory: 8 << 20, Goroutines: 12, GCCycles: 3, LastGC: crashTime.Add(-10 * time.Second), GOMAXPROCS: 2},
	}
	return r
}

// TestScopeInEvent: the event carries the scope as sentry-go would have
// applied it, the crash's own fields win, Options.Sentry.Tags are the base,
// the snapshot's age and the runtime are contexts, and it is schema-valid.
func TestScopeInEvent(t *testing.T) {
	body, err := Build(scopeReport(), Options{})
	require.NoError(t, err)
	requireValidEvent(t, body)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(body, &ev))

	assert.Equal(t, "fatal", ev["level"], "the crash's level wins over the scope's")
	assert.Equal(t, map[string]any{"id": "u-42", "email": "u@example.com", "data": map[string]any{"plan": "pro"}}, ev["user"])
	assert.Equal(t, map[string]any{"region": "eu", "team": "payments"}, ev["tags"], "the scope's tags over the options' (team: core)")
	assert.Equal(t, []any{"{{ default }}", "checkout"}, ev["fingerprint"])
	crumbs := ev["breadcrumbs"].(map[string]any)["values"].([]any)
	require.Len(t, crumbs, 3)
	assert.Equal(t, map[string]any{"category": "auth", "message": "login", "level": "info", "timestamp": "2025-11-03T14:15:11.623456789Z"}, crumbs[0])
	assert.Equal(t, map[string]any{"type": "http", "category": "http", "data": map[string]any{"url": "https://example.com/pay", "status_code": float64(502)},
		"timestamp": "2025-11-03T14:15:12.623456789Z"}, crumbs[1])
	assert.Equal(t, "charge", crumbs[2].(map[string]any)["message"])

	ctx := ev["contexts"].(map[string]any)
	assert.Equal(t, map[string]any{"id": float64(7)}, ctx["order"])
	assert.Equal(t, map[string]any{"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef"}, ctx["trace"])
	assert.Equal(t, map[string]any{"name": "scope-runtime", "build": "x", "version": "go1.26.8"},
		ctx["runtime"], "the scope's keys win, the crash's fill the rest")
	cg := ctx["crashguard"].(map[string]any)
	assert.Equal(t, "panic", cg["kind"], "crashguard's own context is never the scope's")
	assert.Equal(t, 916.123, cg["uptime_seconds"])
	assert.Equal(t, map[string]any{"seq": float64(4), "taken": "2025-11-03T14:15:14.623456789Z", "age_seconds": 1.5,
		"level": "warning", "breadcrumbs": float64(3), "ring_breadcrumbs": float64(1)}, cg["scope"])
	gr := ctx["go_runtime"].(map[string]any)
	assert.Equal(t, map[string]any{
		"gomaxprocs_at_start": float64(2), "num_cpu": float64(8), "gogc": float64(50), "gomemlimit": float64(1 << 30), "godebug": "madvdontneed=1",
		"cgroup":      map[string]any{"version": float64(2), "path": "/svc", "memory_max": float64(2 << 30), "cpu_quota": 1.5},
		"heap_in_use": float64(1 << 20), "heap_goal": float64(4 << 20), "total_memory": float64(8 << 20), "goroutines": float64(12),
		"gc_cycles": float64(3), "last_gc": "2025-11-03T14:15:06.123456789Z", "gomaxprocs": float64(2),
		"sample_taken": "2025-11-03T14:15:13.123456789Z", "sample_age_seconds": float64(3),
	}, gr)

	// The crash's own fields.
	exc := ev["exception"].(map[string]any)["values"].([]any)
	require.NotEmpty(t, exc)
	assert.Equal(t, "runtime error: invalid memory address or nil pointer dereference", exc[len(exc)-1].(map[string]any)["value"])
	assert.NotEmpty(t, ev["threads"])
}

// TestScopeBeforeSendSeesMergedEvent: BeforeSend gets the event with the
// scope applied, and what it changes is sent.
func TestScopeBeforeSendSeesMergedEvent(t *testing.T) {
	var seen *sentry.Event
	body, err := Build(scopeReport(), Options{BeforeSend: func(ev *sentry.Event) *sentry.Event {
		seen = ev
		ev.User.Email = ""
		return ev
	}})
	require.NoError(t, err)
	require.NotNil(t, seen)
	assert.Equal(t, "eu", seen.Tags["region"])
	assert.Equal(t, "u-42", seen.User.ID)
	assert.Len(t, seen.Breadcrumbs, 3)
	assert.Equal(t, sentry.LevelFatal, seen.Level)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(body, &ev))
	assert.Equal(t, map[string]any{"id": "u-42", "data": map[string]any{"plan": "pro"}}, ev["user"])
}

// TestNoScopeNoChange: without a snapshot the event is as before, with the
// uptime added.
func TestNoScopeNoChange(t *testing.T) {
	body, err := Build(panicReport(), Options{})
	require.NoError(t, err)
	requireValidEvent(t, body)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(body, &ev))
	assert.NotContains(t, ev, "user")
	assert.NotContains(t, ev, "breadcrumbs")
	assert.NotContains(t, ev, "fingerprint")
	assert.Equal(t, map[string]any{"team": "core"}, ev["tags"])
	ctx := ev["contexts"].(map[string]any)
	assert.NotContains(t, ctx, "go_runtime")
	assert.Equal(t, map[string]any{"name": "go", "version": "go1.26.8"}, ctx["runtime"])
	assert.Equal(t, 916.123, ctx["crashguard"].(map[string]any)["uptime_seconds"])
}
