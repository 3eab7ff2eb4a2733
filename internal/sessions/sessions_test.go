package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// limits is RateLimits in memory.
type limits map[string]time.Time

func (l limits) SetRateLimit(c string, until time.Time) error { l[c] = until; return nil }
func (l limits) RateLimited(c string, now time.Time) (time.Time, bool) {
	u, ok := l[c]
	return u, ok && now.Before(u)
}

func newSpool(t *testing.T) *Spool {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("sessions are sent on unix only")
	}
	s, err := Open(filepath.Join(t.TempDir(), "sessions"))
	require.NoError(t, err)
	return s
}

func sender(t *testing.T, recv *sentrytest.Server) *transport.Sender {
	t.Helper()
	tr, err := transport.NewSender(recv.DSN(), transport.Options{})
	require.NoError(t, err)
	return tr
}

var t0 = time.Date(2026, 12, 1, 10, 0, 17, 0, time.UTC)

func TestEndedRunsAreSentAsAggregatesPerRelease(t *testing.T) {
	s := newSpool(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	for i, e := range []Ended{
		{Started: t0, Status: Exited, Release: "app@1", Environment: "prod", DistinctID: "m1"},
		{Started: t0.Add(20 * time.Second), Status: Exited, Release: "app@1", Environment: "prod", DistinctID: "m1"},
		{Started: t0.Add(30 * time.Second), Status: Crashed, Release: "app@1", Environment: "prod", DistinctID: "m1"},
		{Started: t0.Add(2 * time.Minute), Status: Exited, Release: "app@1", Environment: "prod", DistinctID: "m1"},
		{Started: t0, Status: Crashed, Release: "app@2", DistinctID: "m1"},
		{Started: t0, Status: Exited, Release: "", DistinctID: "m1"}, // no release: not recorded
	} {
		e.RunID = "run" + string(rune('a'+i))
		require.NoError(t, s.Record(e))
	}
	rl := limits{}
	sent, err := s.Send(context.Background(), sender(t, recv), rl, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 5, sent)
	assert.ElementsMatch(t, []sentrytest.SessionBucket{
		{Release: "app@1", Environment: "prod", Started: t0.Truncate(time.Minute), DID: "m1", Exited: 2, Crashed: 1},
		{Release: "app@1", Environment: "prod", Started: t0.Add(2 * time.Minute).Truncate(time.Minute), DID: "m1", Exited: 1},
		{Release: "app@2", Started: t0.Truncate(time.Minute), DID: "m1", Crashed: 1},
	}, recv.SessionBuckets())
	assert.Equal(t, 2, recv.Counts().Requests, "one envelope per release and environment")
	assert.Empty(t, s.pending())
	des, err := os.ReadDir(s.dir)
	require.NoError(t, err)
	for _, de := range des {
		assert.Equal(t, ".lock", de.Name(), "nothing left but the senders' lock")
	}
}

func TestRateLimitedSessionsWait(t *testing.T) {
	s := newSpool(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	require.NoError(t, s.Record(Ended{RunID: "r1", Started: t0, Status: Exited, Release: "app@1"}))
	recv.RateLimitNext(1, "60", "60:session:project")
	rl := limits{}
	now := time.Now()
	_, err := s.Send(context.Background(), sender(t, recv), rl, now)
	assert.ErrorIs(t, err, ErrNotSent)
	until, limited := rl.RateLimited(transport.CategorySession, now)
	require.True(t, limited)
	assert.WithinDuration(t, now.Add(time.Minute), until, 5*time.Second)
	// While limited nothing is posted; the session waits.
	_, err = s.Send(context.Background(), sender(t, recv), rl, now.Add(time.Second))
	assert.ErrorIs(t, err, ErrNotSent)
	assert.Equal(t, 1, recv.Counts().Requests)
	// After it, it goes.
	sent, err := s.Send(context.Background(), sender(t, recv), rl, now.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 1, sent)
	assert.Len(t, recv.SessionBuckets(), 1)
}

func TestOneSenderAtATimeAndDamagedRecordsGo(t *testing.T) {
	s := newSpool(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	require.NoError(t, s.Record(Ended{RunID: "r1", Started: t0, Status: Exited, Release: "app@1"}))
	// A power cut's NULs (a short run and one longer than a record) and a
	// line cut short, between good lines.
	log, err := os.OpenFile(filepath.Join(s.dir, logName), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = log.WriteString("\x00\x00\x00\n" + strings.Repeat("\x00", 3*maxRecord) + "\n{\"run_id\":\"r9\",\"sta\n")
	require.NoError(t, err)
	require.NoError(t, log.Close())
	require.NoError(t, s.Record(Ended{RunID: "r2", Started: t0, Status: Crashed, Release: "app@1"}))
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "notours.txt"), []byte("keep"), 0o600))

	unlock, ok, err := s.lock() // another process sending
	require.NoError(t, err)
	require.True(t, ok)
	sent, err := s.Send(context.Background(), sender(t, recv), limits{}, t0)
	require.NoError(t, err)
	assert.Zero(t, sent)
	assert.Zero(t, recv.Counts().Requests)
	unlock()

	sent, err = s.Send(context.Background(), sender(t, recv), limits{}, t0)
	require.NoError(t, err)
	assert.Equal(t, 2, sent, "the damaged lines skipped, the good ones around them sent")
	assert.Equal(t, []sentrytest.SessionBucket{{Release: "app@1", Started: t0.Truncate(time.Minute), Exited: 1, Crashed: 1}}, recv.SessionBuckets())
	assert.Empty(t, s.pending())
	assert.FileExists(t, filepath.Join(s.dir, "notours.txt"))
}

func TestAppendEndedMatchesJSON(t *testing.T) {
	local := time.FixedZone("X", 3600)
	for _, e := range []Ended{
		{RunID: "r1", Started: t0, Status: Exited, Release: "app@1"},
		{RunID: "r2", Started: t0.Add(123456789).In(local), Status: Crashed, Release: "a\"b\\c\u2028", Environment: "prod<>&", DistinctID: "d\x01"},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false) // jsonstr leaves <>& as they are: the same JSON
		require.NoError(t, enc.Encode(e))
		assert.Equal(t, strings.TrimSuffix(want.String(), "\n"), string(appendEnded(nil, &e)))
	}
}

func TestLastStartRestartsEveryFourDays(t *testing.T) {
	assert.Equal(t, t0, LastStart(t0, t0.Add(time.Hour)))
	assert.Equal(t, t0, LastStart(t0, t0.Add(RestartEvery)))
	assert.Equal(t, t0.Add(RestartEvery), LastStart(t0, t0.Add(RestartEvery+time.Second)))
	assert.Equal(t, t0.Add(2*RestartEvery), LastStart(t0, t0.Add(9*24*time.Hour)))
	assert.True(t, t0.Add(9*24*time.Hour).Sub(LastStart(t0, t0.Add(9*24*time.Hour))) < MaxAge)
}

// BenchmarkRecord is what Install pays, when it takes a clean run's files
// over, to end that run's session: one small file written and renamed.
// The first-use comparison is the reflective encoder it avoids.
func BenchmarkRecord(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "sessions"))
	require.NoError(b, err)
	e := Ended{RunID: "20261201T100017.123456789Z-4242-0123456789abcdef", Started: t0, Status: Exited,
		Release: "app@1.2.3", Environment: "production", DistinctID: "0123456789abcdef0123456789abcdef"}
	b.Run("record", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if i%10000 == 9999 { // a sender takes the log, as it would: it stays under its cap
				b.StopTimer()
				_, err := s.claim(time.Now())
				require.NoError(b, err)
				b.StartTimer()
			}
			e.RunID = "20261201T100017.123456789Z-4242-" + strconv.Itoa(i)
			require.NoError(b, s.Record(e))
		}
	})
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 256)
		for i := 0; i < b.N; i++ {
			buf = appendEnded(buf[:0], &e)
		}
	})
	b.Run("encode-json.Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = json.Marshal(e)
		}
	})
}

// Sentry reached for one release and not for the next: what was sent goes,
// what was not waits, and nothing is sent twice.
func TestPartlySentBatchKeepsOnlyWhatWasNotSent(t *testing.T) {
	s := newSpool(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	require.NoError(t, s.Record(Ended{RunID: "a1", Started: t0, Status: Exited, Release: "app@1"}))
	require.NoError(t, s.Record(Ended{RunID: "b1", Started: t0, Status: Crashed, Release: "app@2"}))
	require.NoError(t, s.Record(Ended{RunID: "a1", Started: t0, Status: Exited, Release: "app@1"})) // spooled twice
	first := &failAfter{p: sender(t, recv), ok: 1}
	sent, err := s.Send(context.Background(), first, limits{}, t0)
	assert.ErrorIs(t, err, ErrNotSent)
	assert.Equal(t, 1, sent, "app@1's one run, spooled twice, counted once")
	assert.Equal(t, []sentrytest.SessionBucket{{Release: "app@1", Started: t0.Truncate(time.Minute), Exited: 1}}, recv.SessionBuckets())
	left := s.pending()
	require.Len(t, left, 1, "what was sent is gone")
	assert.Equal(t, "b1", left[0].RunID)

	sent, err = s.Send(context.Background(), sender(t, recv), limits{}, t0)
	require.NoError(t, err)
	assert.Equal(t, 1, sent)
	assert.Len(t, recv.SessionBuckets(), 2)
	assert.Empty(t, s.pending())
}

// failAfter posts the first ok envelopes and fails the rest, as a network
// that goes down mid-pass.
type failAfter struct {
	p  Poster
	ok int
}

func (f *failAfter) Send(ctx context.Context, env []byte) transport.Result {
	if f.ok == 0 {
		return transport.Result{Outcome: transport.Retry, Err: errors.New("connection reset")}
	}
	f.ok--
	return f.p.Send(ctx, env)
}

// Writers appending while senders take the log over lose nothing and
// count nothing twice: 8 writers x 200 ends, a sender running throughout.
func TestConcurrentRecordAndSendLoseNothing(t *testing.T) {
	s := newSpool(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	tr := sender(t, recv)
	const writers, each = 8, 200
	done := make(chan struct{})
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				id := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if err := s.Record(Ended{RunID: id, Started: t0, Status: Exited, Release: "app@1"}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	sentTotal := 0
	go func() {
		for i := 0; i < writers; i++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		close(done)
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		n, err := s.Send(context.Background(), tr, limits{}, time.Now())
		require.NoError(t, err)
		sentTotal += n
	}
	n, err := s.Send(context.Background(), tr, limits{}, time.Now())
	require.NoError(t, err)
	sentTotal += n
	exited := 0
	for _, b := range recv.SessionBuckets() {
		exited += b.Exited
	}
	assert.Equal(t, writers*each, sentTotal)
	assert.Equal(t, writers*each, exited, "every end counted once")
	assert.Empty(t, s.pending())
}

// A log at its size cap takes no more ends, and says so: nothing is
// written past what a sender reads.
func TestFullSpoolRefusesAndSays(t *testing.T) {
	s := newSpool(t)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, logName), bytes.Repeat([]byte("x"), maxFile-10), 0o600))
	err := s.Record(Ended{RunID: "r1", Started: t0, Status: Exited, Release: "app@1"})
	assert.ErrorIs(t, err, ErrFull)
	fi, err := os.Stat(filepath.Join(s.dir, logName))
	require.NoError(t, err)
	assert.EqualValues(t, maxFile-10, fi.Size())
}
