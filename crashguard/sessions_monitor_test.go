//go:build linux

package crashguard

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// With the monitor, a run's session reaches Sentry as soon as the run
// ends, clean or crashed, with no later start.
func TestMonitorEndsTheSessionAtOnce(t *testing.T) {
	for _, c := range []struct {
		mode            string
		exited, crashed int
	}{
		{"return", 1, 0},
		{"panic-main", 0, 1},
	} {
		t.Run(c.mode, func(t *testing.T) {
			bin := testprogCgo(t, "gocrash", false)
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir := t.TempDir()
			res := runChild(t, bin, dir, []string{"GOCRASH_MONITOR=1", "SENTRY_DSN=" + recv.DSN(), "SENTRY_RELEASE=app@3"}, c.mode)
			require.Contains(t, res.stdout, "gocrash: monitor up", res.stderr)
			id := runIDOf(t, res.stdout)
			ctx, cancel := context.WithTimeout(context.Background(), monitorDeadline)
			defer cancel()
			require.NoError(t, recv.WaitRequests(ctx, 1+c.crashed), "the session, and the event if any, without a later start")
			waitMonitorGone(t, id)
			exited, crashed, _ := sessionTotals(recv.SessionBuckets())
			assert.Equal(t, c.exited, exited)
			assert.Equal(t, c.crashed, crashed)
			assert.Empty(t, spooled(t, dir))
		})
	}
}
