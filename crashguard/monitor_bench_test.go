//go:build linux

package crashguard

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
	tp "github.com/crashguard/crashguard-go/internal/testprog"
)

// BenchmarkMonitorCrashToEvent measures how long a crash takes to reach a
// local receiver with Options.Monitor and no later start: from the crashed
// child's exit to the event's arrival (the monitor wakes on the lock,
// parses, writes the outbox, posts). An op is one crash; it reports the
// median and the slowest.
func BenchmarkMonitorCrashToEvent(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := tp.Build(ctx, "gocrash", b.TempDir(), false)
	require.NoError(b, err)
	recv := sentrytest.New()
	defer recv.Close()
	var took []time.Duration
	for b.Loop() {
		n := len(recv.Events())
		cctx, ccancel := context.WithTimeout(context.Background(), benchChildTimeout)
		cmd := exec.CommandContext(cctx, bin, "panic-main")
		cmd.Env = append(baseEnv(), "CRASHGUARD_DIR="+b.TempDir(), "GOCRASH_MONITOR=1", "SENTRY_DSN="+recv.DSN())
		out, _ := cmd.Output() // exit status 2: the crash
		ended := time.Now()
		require.Contains(b, string(out), "gocrash: monitor up")
		_, err := recv.WaitEvents(cctx, n+1)
		require.NoError(b, err)
		took = append(took, time.Since(ended))
		ccancel()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1e3, "median-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1e3, "max-ms")
}
