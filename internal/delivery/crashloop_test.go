package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// newLoopFixture is newFixture with the outbox's default caps and crash-loop
// folding (LoopFull 3 per hour).
func newLoopFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{recv: sentrytest.New(), now: time.Now()}
	t.Cleanup(f.recv.Close)
	var err error
	f.ob, err = outbox.Open(filepath.Join(t.TempDir(), "outbox"), outbox.Options{Now: func() time.Time { return f.now }})
	require.NoError(t, err)
	tr, err := transport.NewSender(f.recv.DSN(), transport.Options{})
	require.NoError(t, err)
	f.s = &Sender{Outbox: f.ob, Transport: tr, Event: sentryevent.Options{Dsn: f.recv.DSN()},
		Logger: discard(), Now: func() time.Time { return f.now }}
	return f
}

// loopReport is crash n of fingerprint fp ("a" or "b": another top frame).
func loopReport(fp string, n int) *report.Report {
	r := sampleReport(sampleID(n))
	r.Goroutines[0].Frames[0].Function = "main.crash_" + fp
	return r
}

// put puts r; a folded report is accounted for, not an error.
func (f *fixture) put(t *testing.T, r *report.Report) {
	t.Helper()
	if err := f.ob.Put(r); !errors.Is(err, outbox.ErrFolded) {
		require.NoError(t, err)
	}
}

// eventsByFingerprint groups the received events by their top frame and
// returns, per group, the folded_crashes each event carried.
func eventsByFingerprint(t *testing.T, recv *sentrytest.Server) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, e := range recv.Events() {
		exc := e.Event["exception"].(map[string]any)["values"].([]any)
		frames := exc[len(exc)-1].(map[string]any)["stacktrace"].(map[string]any)["frames"].([]any)
		fn := frames[len(frames)-1].(map[string]any)["function"].(string)
		cg := e.Event["contexts"].(map[string]any)["crashguard"].(map[string]any)
		out[fn] = append(out[fn], num(cg["folded_crashes"]))
	}
	return out
}

// A crash loop of 1,000 crashes of two fingerprints, each delivered at once
// (as a monitor does): within the hour, 3 events per fingerprint; the
// first crash of each after the hour is sent carrying the other 497.
func TestCrashLoopOfThousandSendsLoopFullPerFingerprint(t *testing.T) {
	f := newLoopFixture(t)
	for i := range 1000 {
		f.put(t, loopReport([]string{"a", "b"}[i%2], i))
		_, err := f.s.SendAll(context.Background(), true)
		require.NoError(t, err)
		f.now = f.now.Add(3 * time.Second)
		require.LessOrEqual(t, len(f.pending(t)), outbox.DefaultMaxReports)
	}
	assert.Empty(t, f.pending(t))
	assert.Equal(t, map[string][]int{"crash_a": {0, 0, 0}, "crash_b": {0, 0, 0}}, eventsByFingerprint(t, f.recv))

	f.now = f.now.Add(time.Hour)
	f.put(t, loopReport("a", 1000))
	f.put(t, loopReport("b", 1001))
	st, err := f.s.SendAll(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 2, Folded: 2 * 497}, st)
	byFP := eventsByFingerprint(t, f.recv)
	assert.Equal(t, map[string][]int{"crash_a": {0, 0, 0, 497}, "crash_b": {0, 0, 0, 497}}, byFP)
	for fp, folded := range byFP {
		total := 0
		for _, n := range folded {
			total += 1 + n
		}
		assert.Equal(t, 501, total, "%s: every crash accounted for", fp)
	}
}

// The same loop with no network until the end: the outbox keeps 3 reports
// per fingerprint, and the first event of each carries the rest.
func TestCrashLoopOfThousandOffline(t *testing.T) {
	f := newLoopFixture(t)
	for i := range 1000 {
		f.put(t, loopReport([]string{"a", "b"}[i%2], i))
		f.now = f.now.Add(3 * time.Second)
	}
	assert.Len(t, f.pending(t), 6)
	st, err := f.s.SendAll(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 6, Folded: 994}, st)
	assert.Equal(t, map[string][]int{"crash_a": {497, 0, 0}, "crash_b": {497, 0, 0}}, eventsByFingerprint(t, f.recv))
}

// A count whose event was not delivered goes to the next event.
func TestFoldedCountSurvivesAFailedSend(t *testing.T) {
	f := newLoopFixture(t)
	for i := range 5 {
		f.put(t, loopReport("a", i))
	}
	f.recv.FailNext(1, 500)
	st, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	assert.Equal(t, Stats{Delivered: 2, Kept: 1, Folded: 2}, st, "the second report carried the first's count")
	assert.Equal(t, map[string][]int{"crash_a": {2, 0}}, eventsByFingerprint(t, f.recv))
}

// Reports the caps removed are said by the next event delivered.
func TestDroppedReportsAreCounted(t *testing.T) {
	f := newLoopFixture(t)
	for i := range outbox.DefaultMaxReports + 4 {
		r := loopReport("a", i)
		r.Kind = report.Kind("kind-" + sampleID(i)) // all different: no folding
		f.put(t, r)
	}
	assert.Len(t, f.pending(t), outbox.DefaultMaxReports)
	st, err := f.s.SendAll(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, outbox.DefaultMaxReports, st.Delivered)
	dropped := 0
	for _, e := range f.recv.Events() {
		cg := e.Event["contexts"].(map[string]any)["crashguard"].(map[string]any)
		dropped += num(cg["dropped_reports"])
	}
	assert.Equal(t, 4, dropped)
}

// num is a JSON number as the receiver decodes it (json.Number), 0 if absent.
func num(v any) int {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return int(i)
}
