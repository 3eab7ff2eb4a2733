//go:build unix

package scopesnap

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// TestRunTakeOverKeepsOneScopeFile: a start that takes over a dead clean
// run takes its scope file too (renamed, then reset by Start), so runs/
// holds one scope file however many runs follow each other, and the new
// run never shows the old run's scope.
func TestRunTakeOverKeepsOneScopeFile(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	hub := newHub(t, sentry.ClientOptions{})
	var prev *runfile.Run
	for i := range 3 {
		r, err := runfile.Start(runs, &runfile.Meta{Process: report.Process{PID: 4242, StartTime: time.Now()}})
		require.NoError(t, err)
		if prev != nil {
			assert.True(t, r.Reused, "run %d takes over the previous one", i)
			_, err := os.Stat(prev.Path(runfile.ScopeName))
			assert.ErrorIs(t, err, os.ErrNotExist, "the old name is gone")
			_, err = os.Stat(r.Path(runfile.ScopeName))
			assert.NoError(t, err, "renamed to the new run")
		}
		hub.ConfigureScope(func(s *sentry.Scope) { s.SetTag("run", r.ID) })
		stop, err := start(r.Path(runfile.ScopeName), time.Millisecond, Settings(), func() *sentry.Hub { return hub }, false)
		require.NoError(t, err)
		sc := waitScope(t, r.Path(runfile.ScopeName), func(s *report.Scope) bool { return s.Tags["run"] == r.ID })
		assert.Equal(t, uint64(1), sc.Seq, "a fresh sequence: the old run's slots were reset")
		stop()
		require.NoError(t, r.CrashFile.Close()) // the process ends cleanly
		names, err := filepath.Glob(filepath.Join(runs, "*"))
		require.NoError(t, err)
		assert.Len(t, names, 2, "run file and scope file: %v", names)
		prev = r
	}
}
