package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
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
	left, err := s.list(MaxPerPass)
	require.NoError(t, err)
	assert.Empty(t, left)
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
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "bad"+ext), []byte("\x00\x00\x00"), 0o600))
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
	assert.Equal(t, 1, sent)
	assert.NoFileExists(t, filepath.Join(s.dir, "bad"+ext))
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
