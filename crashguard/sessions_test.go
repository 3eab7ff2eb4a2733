//go:build unix

package crashguard

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// sessionTotals adds up the session buckets the receiver got.
func sessionTotals(bs []sentrytest.SessionBucket) (exited, crashed, other int) {
	for _, b := range bs {
		exited += b.Exited
		crashed += b.Crashed
		other += b.Errored + b.Abnormal
	}
	return
}

// spooled lists the run ids of the sessions waiting in dir's spool (the
// log and any batch a sender left: one JSON line each).
func spooled(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "sessions", "*.log"))
	require.NoError(t, err)
	var ids []string
	for _, p := range m {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e struct {
				RunID string `json:"run_id"`
			}
			if line != "" && json.Unmarshal([]byte(line), &e) == nil {
				ids = append(ids, e.RunID)
			}
		}
	}
	return ids
}

// Three clean runs and one crash of one release: Release Health gets 3
// exited and 1 crashed, in one request sent with the crash, and none of
// the short runs cost a request of its own.
func TestSessionsCountCleanRunsAndCrashes(t *testing.T) {
	bin := testprog(t, "gocrash")
	dir := t.TempDir()
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	env := []string{"SENTRY_DSN=" + recv.DSN(), "SENTRY_RELEASE=app@1.2.3", "SENTRY_ENVIRONMENT=staging"}
	begin := time.Now()

	for _, run := range []struct {
		mode string
		exit int
	}{{"return", 0}, {"exit3", 3}, {"return", 0}} {
		res := runChild(t, bin, dir, env, run.mode)
		require.Equal(t, run.exit, res.exit, "%s: %s", run.mode, res.stderr)
	}
	res := runChild(t, bin, dir, env, "panic-main")
	require.Equal(t, 2, res.exit, res.stderr)
	assert.Zero(t, recv.Counts().Requests, "short clean runs send nothing of their own")
	assert.Len(t, spooled(t, dir), 3, "each start spooled the run it took over")

	res = runChild(t, bin, dir, env, "flush")
	require.Contains(t, res.stdout, "gocrash: flush: <nil>", res.stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs, err := recv.WaitEvents(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "app@1.2.3", evs[0].Event["release"])

	buckets := recv.SessionBuckets()
	exited, crashed, other := sessionTotals(buckets)
	assert.Equal(t, 3, exited)
	assert.Equal(t, 1, crashed)
	assert.Zero(t, other, "errored and abnormal are never sent")
	for _, b := range buckets {
		assert.Equal(t, "app@1.2.3", b.Release)
		assert.Equal(t, "staging", b.Environment)
		assert.Equal(t, machineDID(), b.DID)
		assert.False(t, b.Started.Before(begin.Truncate(time.Minute)), "started %s", b.Started)
		assert.False(t, b.Started.After(time.Now()), "started %s", b.Started)
		assert.Zero(t, b.Started.Second(), "aggregates are bucketed by minute")
	}
	sessionPosts := 0
	for _, r := range recv.Envelopes() {
		if len(r.Sessions) > 0 {
			sessionPosts++
		}
	}
	assert.Equal(t, 1, sessionPosts, "the sessions went in one request")
	assert.Empty(t, spooled(t, dir), "sent sessions are removed")
}

// A session rate limit announced by Sentry is honoured by every later
// process: the sessions stay spooled, nothing is posted, and no count is
// lost.
func TestSessionsHonourTheSessionRateLimit(t *testing.T) {
	bin := testprog(t, "gocrash")
	dir := t.TempDir()
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	recv.SetRateLimits("600:session:project") // on every answer, the event's too
	env := []string{"SENTRY_DSN=" + recv.DSN(), "SENTRY_RELEASE=app@2"}

	runChild(t, bin, dir, env, "return")
	runChild(t, bin, dir, env, "panic-main")
	res := runChild(t, bin, dir, env, "flush")
	require.Contains(t, res.stdout, "gocrash: flush: <nil>", res.stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := recv.WaitEvents(ctx, 1)
	require.NoError(t, err)
	assert.Empty(t, recv.SessionBuckets(), "limited by the event's answer: no sessions posted")
	assert.Equal(t, 1, recv.Counts().Requests)
	assert.Len(t, spooled(t, dir), 2, "the sessions wait, none lost")

	res = runChild(t, bin, dir, env, "flush")
	require.Contains(t, res.stdout, "gocrash: flush: <nil>", res.stderr)
	assert.Equal(t, 1, recv.Counts().Requests, "a later process honours the limit too")
	assert.Len(t, spooled(t, dir), 3)
}

// Sessions need a DSN and a release, and can be turned off.
func TestSessionMetaNeedsDSNAndRelease(t *testing.T) {
	s := settings{dsn: "https://k@example.com/1", release: "r"}
	assert.NotNil(t, sessionMeta(s, Options{}))
	assert.Equal(t, "user-7", sessionMeta(s, Options{SessionDistinctID: "user-7"}).DID)
	assert.Nil(t, sessionMeta(s, Options{DisableSessions: true}))
	assert.Nil(t, sessionMeta(settings{release: "r"}, Options{}), "no DSN")
	assert.Nil(t, sessionMeta(settings{dsn: s.dsn}, Options{}), "no release")
	if id, err := os.ReadFile("/etc/machine-id"); err == nil && len(id) > 1 {
		did := machineDID()
		assert.Len(t, did, 32)
		assert.NotContains(t, string(id), did, "the machine id itself is never sent")
	}
}
