package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/transport"
)

func sampleReport(id string) *report.Report {
	return &report.Report{
		FormatVersion: report.FormatVersion,
		EventID:       id,
		RunID:         "run-" + id[:6],
		Kind:          report.KindPanic,
		Message:       "boom",
		Goroutines: []report.Goroutine{{
			ID: 1, State: "running", Crashed: true,
			Frames: []report.Frame{{Function: "main.main", Package: "main", File: "/src/main.go", Line: 7, InApp: true}},
		}},
		CrashedGoroutine: 1,
		Process: report.Process{
			PID: 42, Executable: "/bin/app", GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64",
			StartTime: time.Unix(1700000000, 0).UTC(), CrashTime: time.Unix(1700000100, 0).UTC(),
		},
		CrashOutput: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:7 +0x1d\n",
	}
}

type fixture struct {
	ob   *outbox.Outbox
	recv *sentrytest.Server
	s    *Sender
	now  time.Time
}

func newFixture(t *testing.T, ids ...string) *fixture {
	t.Helper()
	f := &fixture{recv: sentrytest.New(), now: time.Now()}
	t.Cleanup(f.recv.Close)
	var err error
	// Caps and crash-loop folding off: these tests put many copies of one
	// report; crashloop_test.go turns them on.
	f.ob, err = outbox.Open(filepath.Join(t.TempDir(), "outbox"), outbox.Options{Now: func() time.Time { return f.now },
		MaxReports: -1, LoopWindow: -1})
	require.NoError(t, err)
	for _, id := range ids {
		require.NoError(t, f.ob.Put(sampleReport(id)))
	}
	tr, err := transport.NewSender(f.recv.DSN(), transport.Options{})
	require.NoError(t, err)
	f.s = &Sender{Outbox: f.ob, Transport: tr, Event: sentryevent.Options{Dsn: f.recv.DSN()},
		Logger: discard(), Now: func() time.Time { return f.now }}
	return f
}

func (f *fixture) pending(t *testing.T) []outbox.Entry {
	t.Helper()
	e, err := f.ob.List()
	require.NoError(t, err)
	return e
}

const id1 = "0123456789abcdef0123456789abcdef"
const id2 = "fedcba9876543210fedcba9876543210"

func TestDeliveredReportLeavesTheOutbox(t *testing.T) {
	f := newFixture(t, id1)
	st, err := f.s.SendAll(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 1}, st)
	assert.Empty(t, f.pending(t))
	ev := f.recv.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, id1, ev[0].EventID)
	assert.Equal(t, "fatal", ev[0].Event["level"])
	assert.NoError(t, ev[0].SchemaErr)
}

func TestServerErrorsKeepTheReportWithBackoffUntilSuccess(t *testing.T) {
	f := newFixture(t, id1)
	f.recv.FailNext(2, 500)

	st, err := f.s.SendAll(context.Background(), true)
	require.ErrorIs(t, err, ErrNotDelivered)
	require.ErrorIs(t, err, transport.ErrServer)
	assert.Equal(t, Stats{Kept: 1}, st)
	p := f.pending(t)
	require.Len(t, p, 1)
	assert.Equal(t, 1, p[0].State.Attempts)
	assert.True(t, p[0].State.NextAttempt.After(f.now), "a failed report waits before the next try")

	// The background pass honours the backoff: nothing is sent.
	before := f.recv.Counts().Requests
	st, err = f.s.SendAll(context.Background(), true)
	require.ErrorIs(t, err, ErrNotDelivered)
	assert.Equal(t, Stats{Kept: 1}, st)
	assert.Equal(t, before, f.recv.Counts().Requests)

	// An explicit flush tries now; the second 500, then success.
	_, err = f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	assert.Equal(t, 2, f.pending(t)[0].State.Attempts)
	st, err = f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 1}, st)
	assert.Empty(t, f.pending(t))
	assert.Len(t, f.recv.Events(), 1)
	assert.Equal(t, 2, f.recv.Counts().Failed)
}

func TestRateLimitIsHonouredAcrossPassesAndOnlyUntilItEnds(t *testing.T) {
	f := newFixture(t, id1, id2)
	f.recv.RateLimitNext(1, "120", "")

	st, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	assert.Equal(t, Stats{Kept: 2}, st, "the 429 stops the pass: the second report is not even tried")
	assert.Equal(t, 1, f.recv.Counts().Requests)
	until, limited := f.ob.RateLimited(transport.CategoryError, f.now)
	require.True(t, limited)
	assert.WithinDuration(t, time.Now().Add(120*time.Second), until, 5*time.Second)

	_, err = f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	assert.Equal(t, 1, f.recv.Counts().Requests, "nothing is sent while the limit lasts")

	f.now = f.now.Add(121 * time.Second)
	st, err = f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 2}, st)
}

func TestSentryRateLimitsHeaderOnAcceptedEnvelopeIsStored(t *testing.T) {
	f := newFixture(t, id1)
	f.recv.SetRateLimits("60:error:organization")
	_, err := f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	_, limited := f.ob.RateLimited(transport.CategoryError, f.now)
	assert.True(t, limited)
}

func TestPermanentRejectionQuarantinesWithReasonAndSaysSo(t *testing.T) {
	for _, tc := range []struct {
		status int
		reason string
	}{
		{400, `transport: envelope rejected: HTTP 400: {"detail":"injected 400"}`},
		// A small report has no smaller form: no second request.
		{413, `HTTP 413 too large: refused with a `},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			f := newFixture(t, id1)
			f.recv.RejectNext(1, tc.status)
			st, err := f.s.SendAll(context.Background(), false)
			require.ErrorIs(t, err, ErrNotDelivered, "a refused report is not delivered")
			require.ErrorIs(t, err, ErrRejected)
			assert.Equal(t, Stats{Quarantined: 1}, st)
			assert.Empty(t, f.pending(t))
			assert.Equal(t, 1, f.recv.Counts().Requests)
			reason, err := os.ReadFile(filepath.Join(f.ob.Dir(), "quarantine", id1+".json.reason"))
			require.NoError(t, err)
			assert.Contains(t, string(reason), tc.reason)
		})
	}
}

// bigReport is a crash with n other goroutines, each with its own stack, and
// its crash output, as traceback "all" prints it.
func bigReport(id string, n int) *report.Report {
	r := sampleReport(id)
	r.Process.Traceback = "all"
	crashed := &r.Goroutines[0]
	crashed.Frames = nil
	var out strings.Builder
	out.WriteString("panic: boom\n\ngoroutine 1 [running]:\n")
	for i := range 40 {
		fn := fmt.Sprintf("main.step%d", i)
		crashed.Frames = append(crashed.Frames, report.Frame{Function: fn, Package: "main", File: "/src/main.go", Line: 100 + i, InApp: true})
		fmt.Fprintf(&out, "%s(...)\n\t/src/main.go:%d +0x1d\n", fn, 100+i)
	}
	for i := range n {
		g := report.Goroutine{ID: int64(i + 2), State: "chan receive"}
		fmt.Fprintf(&out, "\ngoroutine %d [chan receive]:\n", i+2)
		for d := range 6 {
			fn := fmt.Sprintf("main.worker%d.func%d", i, d)
			g.Frames = append(g.Frames, report.Frame{Function: fn, Package: "main", File: "/src/worker.go", Line: 10 + d, InApp: true})
			fmt.Fprintf(&out, "%s()\n\t/src/worker.go:%d +0x1d\n", fn, 10+d)
		}
		r.Goroutines = append(r.Goroutines, g)
	}
	r.CrashOutput = out.String()
	return r
}

func putBig(t *testing.T, f *fixture, id string, n int) *report.Report {
	t.Helper()
	r := bigReport(id, n)
	require.NoError(t, f.ob.Put(r))
	return r
}

// crashedFrames is the functions of the exception's frames, innermost first.
func crashedFrames(t *testing.T, ev map[string]any) []string {
	t.Helper()
	vals := ev["exception"].(map[string]any)["values"].([]any)
	frames := vals[len(vals)-1].(map[string]any)["stacktrace"].(map[string]any)["frames"].([]any)
	var out []string
	for i := len(frames) - 1; i >= 0; i-- {
		fr := frames[i].(map[string]any)
		out = append(out, fmt.Sprint(fr["module"], ".", fr["function"]))
	}
	return out
}

func TestTenThousandGoroutinesArriveUnderRelaysLimitsGzipped(t *testing.T) {
	f := newFixture(t)
	f.recv.SetLimits(sentrytest.RelayLimits)
	r := putBig(t, f, id1, 10000)

	st, err := f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 1}, st)
	assert.Equal(t, 1, f.recv.Counts().Requests, "fitted the first time")
	evs := f.recv.Events()
	require.Len(t, evs, 1)
	ev := evs[0]
	require.NoError(t, ev.SchemaErr)
	assert.LessOrEqual(t, len(ev.Raw), sentryevent.DefaultEventBudget)
	assert.Equal(t, "gzip", ev.ContentEncoding)
	t.Logf("10,001 goroutines: event %d bytes, envelope %d bytes, %d on the wire (%.1fx)",
		len(ev.Raw), ev.DecodedSize, ev.BodySize, float64(ev.DecodedSize)/float64(ev.BodySize))

	var want []string
	for _, fr := range r.Goroutines[0].Frames {
		want = append(want, fr.Function)
	}
	assert.Equal(t, want, crashedFrames(t, ev.Event))
	c := ev.Event["contexts"].(map[string]any)["crashguard"].(map[string]any)
	threads := ev.Event["threads"].(map[string]any)["values"].([]any)
	assert.Equal(t, fmt.Sprint(len(threads)), fmt.Sprint(c["threads_sent"]))
	assert.Equal(t, fmt.Sprint(10001-len(threads)), fmt.Sprint(c["threads_omitted"]))
	assert.Equal(t, map[string]any{"chan receive": json.Number(fmt.Sprint(10001 - len(threads)))}, c["threads_omitted_by_state"])
	require.Len(t, ev.Attachments, 1)
	assert.True(t, r.CrashOutput == string(ev.Attachments[0].Data), "the whole crash output is attached")
}

func TestTooLargeIsSentAgainSmallerAtOnce(t *testing.T) {
	f := newFixture(t)
	// A Relay configured tighter than the default budget.
	f.recv.SetLimits(sentrytest.Limits{MaxEventSize: 300_000})
	putBig(t, f, id1, 3000)

	st, err := f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{Delivered: 1, Shrunk: 1}, st)
	assert.Equal(t, sentrytest.Counts{Requests: 2, Accepted: 1, Rejected: 1}, f.recv.Counts())
	evs := f.recv.Events()
	require.Len(t, evs, 1)
	assert.LessOrEqual(t, len(evs[0].Raw), sentryevent.SmallEventBudget)
	require.NoError(t, evs[0].SchemaErr)
	assert.Empty(t, f.pending(t))
}

func TestTooLargeTwiceIsQuarantinedAndFlushSaysSo(t *testing.T) {
	f := newFixture(t)
	putBig(t, f, id1, 3000)
	f.recv.RejectNext(2, 413)

	st, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorIs(t, err, transport.ErrTooLarge)
	assert.Equal(t, Stats{Quarantined: 1}, st)
	assert.Equal(t, 2, f.recv.Counts().Requests, "the smaller form was tried once")
	assert.Empty(t, f.pending(t), "not pending: quarantined")
	reason, err := os.ReadFile(filepath.Join(f.ob.Dir(), "quarantine", id1+".json.reason"))
	require.NoError(t, err)
	assert.Contains(t, string(reason), "HTTP 413 too large: refused with a ")
	assert.Contains(t, string(reason), "then with ")
	_, err = os.Stat(filepath.Join(f.ob.Dir(), "quarantine", id1+".json"))
	assert.NoError(t, err, "the report itself is kept in quarantine")

	// A later pass has nothing to send and nothing to complain about.
	st, err = f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{}, st)
}

func TestEventTooLargeEvenAtItsSmallestIsQuarantinedAndSaysSo(t *testing.T) {
	f := newFixture(t, id1)
	f.s.Event.BeforeSend = func(ev *sentry.Event) *sentry.Event {
		ev.Contexts["blob"] = sentry.Context{"x": strings.Repeat("x", 2<<20)}
		return ev
	}
	st, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, ErrNotDelivered)
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorIs(t, err, sentryevent.ErrEventTooLarge)
	assert.Equal(t, Stats{Quarantined: 1}, st)
	assert.Zero(t, f.recv.Counts().Requests, "nothing Sentry would refuse is sent")
	assert.Empty(t, f.pending(t))
}

func TestUnauthorizedDSNKeepsTheReport(t *testing.T) {
	f := newFixture(t, id1)
	f.recv.RejectNext(1, 401)
	st, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, transport.ErrUnauthorized)
	assert.Equal(t, Stats{Kept: 1}, st)
	assert.Len(t, f.pending(t), 1)
}

func TestDroppedConnectionAndTimeoutKeepTheReport(t *testing.T) {
	f := newFixture(t, id1)
	f.recv.DropNext(1)
	_, err := f.s.SendAll(context.Background(), false)
	require.ErrorIs(t, err, transport.ErrNetwork)
	require.Len(t, f.pending(t), 1)

	f.recv.Slow(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = f.s.SendAll(ctx, false)
	require.ErrorIs(t, err, ErrNotDelivered)
	require.Len(t, f.pending(t), 1, "a timed-out post keeps the report")
	f.recv.Slow(0)

	_, err = f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Empty(t, f.pending(t))
	assert.Len(t, f.recv.Events(), 1)
}

func TestBeforeSendDropRemovesTheReportWithoutSending(t *testing.T) {
	f := newFixture(t, id1)
	f.s.Event.BeforeSend = func(*sentry.Event) *sentry.Event { return nil }
	st, err := f.s.SendAll(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, Stats{Dropped: 1}, st)
	assert.Empty(t, f.pending(t))
	assert.Zero(t, f.recv.Counts().Requests)
}

func TestTwoSendersNeverSendTheSameReportTwice(t *testing.T) {
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = sampleID(i)
	}
	f := newFixture(t, ids...)
	other, err := outbox.Open(f.ob.Dir(), outbox.Options{MaxReports: -1, LoopWindow: -1})
	require.NoError(t, err)
	s2 := *f.s
	s2.Outbox = other

	var wg sync.WaitGroup
	for _, s := range []*Sender{f.s, &s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.SendAll(context.Background(), false)
		}()
	}
	wg.Wait()
	// Whatever one skipped as busy the other delivered; a final pass mops up.
	_, err = f.s.SendAll(context.Background(), false)
	require.NoError(t, err)

	seen := map[string]int{}
	for _, e := range f.recv.Events() {
		seen[e.EventID]++
	}
	assert.Len(t, seen, len(ids))
	for id, n := range seen {
		assert.Equal(t, 1, n, "event %s sent %d times", id, n)
	}
}

func sampleID(i int) string { return fmt.Sprintf("%032x", i) }
