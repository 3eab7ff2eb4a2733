//go:build unix

package crashguard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// crashOnce leaves one dead crashed run (a panic in main) in dir.
func crashOnce(t *testing.T, bin, dir string, env ...string) childResult {
	t.Helper()
	res := runChild(t, bin, dir, env, "panic-main")
	require.Equal(t, 2, res.exit, "stderr:\n%s", res.stderr)
	return res
}

func TestInstallDoesNotBlockOnTheNetwork(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	recv.Slow(time.Hour) // Sentry never answers
	dir := t.TempDir()
	crashOnce(t, bin, dir)

	// The next start has a report to deliver to a Sentry that hangs. It
	// must still get past Install and end normally; a blocking Install
	// would make the child run into runChild's deadline.
	next := runChild(t, bin, dir, []string{"SENTRY_DSN=" + recv.DSN()}, "return")
	assert.Contains(t, next.stdout, "gocrash: installed")
	assert.Equal(t, 0, next.exit)

	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Len(t, pending, 1, "an interrupted delivery keeps the report")
}

func TestInvalidDSNIsAnErrorAndCaptureStillWorks(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	dir := t.TempDir()
	res := crashOnce(t, bin, dir, "SENTRY_DSN=::not a dsn::")
	assert.Contains(t, res.stderr, "gocrash: install: crashguard: invalid Sentry DSN")
	assert.Contains(t, res.stdout, "layers=crash-output")

	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "gocrash: deliberate panic in main", pending[0].Message)

	s := resolve(Options{Dir: dir, Sentry: sentryOpts("::not a dsn::")})
	assert.ErrorIs(t, s.dsnErr, ErrInvalidDSN)
}

func TestDisabledInstallLeavesNothingBehind(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	dir := t.TempDir()
	res := crashOnce(t, bin, dir, "CRASHGUARD_DISABLE=1")
	assert.Contains(t, res.stderr, "crashguard: disabled by CRASHGUARD_DISABLE")
	ids, err := runfile.List(filepath.Join(dir, "runs"))
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestTwoProcessesStartingAtOnceSendTheReportOnce(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	crashOnce(t, bin, dir)

	var wg sync.WaitGroup
	results := make([]childResult, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runChild(t, bin, dir, []string{"SENTRY_DSN=" + recv.DSN()}, "flush")
		}()
	}
	wg.Wait()
	for _, r := range results {
		assert.Equal(t, 0, r.exit, "stderr:\n%s", r.stderr)
	}
	// Whichever process lost the race to a claim skipped it; the report was
	// delivered exactly once.
	evs := recv.Events()
	require.Len(t, evs, 1, "flush outputs: %q / %q", results[0].stdout, results[1].stdout)
	assert.Equal(t, "fatal", evs[0].Event["level"])
	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending)
}

func TestTracebackOptionRaisesTheLevelAndReleaseReachesTheEvent(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	res := runChild(t, bin, dir, []string{
		"GOCRASH_TRACEBACK=all", "SENTRY_RELEASE=shop@1.4.2", "SENTRY_ENVIRONMENT=staging",
	}, "panic-goroutine")
	require.Equal(t, 2, res.exit)

	g := newTestGuard(t, dir, recv.DSN())
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	r, err := g.outbox.Load(pending[0].EventID)
	require.NoError(t, err)
	assert.Equal(t, "all", r.Process.Traceback)
	require.GreaterOrEqual(t, len(r.Goroutines), 2, "with all, the main goroutine is in the report too")
	var ids []int64
	for _, g := range r.Goroutines {
		ids = append(ids, g.ID)
	}
	assert.Contains(t, ids, int64(1))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, g.Flush(ctx))
	ev := waitEvent(t, recv, r.EventID)
	assert.Equal(t, "shop@1.4.2", ev.Event["release"])
	assert.Equal(t, "staging", ev.Event["environment"])
	host, _ := os.Hostname()
	assert.Equal(t, host, ev.Event["server_name"])
	threads := dig(ev.Event, "threads")["values"].([]any)
	assert.Len(t, threads, len(r.Goroutines))
}

func TestBrokenOutboxFileIsQuarantinedNotAnError(t *testing.T) {
	dir := t.TempDir()
	g := newTestGuard(t, dir, "")
	bad := filepath.Join(dir, "outbox", strings.Repeat("ab", 16)+".json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format_version":1,"event_id":`), 0o600))

	pending, err := g.Pending()
	require.NoError(t, err, "a broken file is never the caller's error")
	assert.Empty(t, pending)
	_, err = os.Stat(bad)
	assert.True(t, errors.Is(err, os.ErrNotExist), "moved away")
	reason, err := os.ReadFile(filepath.Join(dir, "outbox", "quarantine", filepath.Base(bad)+".reason"))
	require.NoError(t, err)
	assert.Contains(t, string(reason), "unexpected end of JSON input")
}

func TestNoDSNKeepsReportsAndSaysSo(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	dir := t.TempDir()
	crashOnce(t, bin, dir)
	g := newTestGuard(t, dir, "")
	err := g.Flush(context.Background())
	assert.ErrorIs(t, err, ErrNoDSN)
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Len(t, pending, 1)
}
