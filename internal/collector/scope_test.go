package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/scopesnap"
)

const scopePanic = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:9 +0x1d\nexit status 2\n"

// TestScopeFileIntoReport: the scope file of a dead run goes into its
// report; a damaged one adds nothing and the crash is still reported; the
// file is removed with the run.
func TestScopeFileIntoReport(t *testing.T) {
	f := newFixture(t)
	mem := &memOutbox{}
	f.c.Outbox = mem
	f.writeRun(t, []byte(metaLine(t)+scopePanic))
	path := filepath.Join(f.runs, runID+"."+runfile.ScopeName)

	sentry.CurrentHub().ConfigureScope(func(s *sentry.Scope) { s.SetTag("collector", "yes") })
	t.Cleanup(func() { sentry.CurrentHub().ConfigureScope(func(s *sentry.Scope) { s.RemoveTag("collector") }) })
	stop, err := scopesnap.Start(path, time.Millisecond, scopesnap.Settings())
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc, _, _ := scopesnap.Read(path)
		if sc != nil && sc.Tags["collector"] == "yes" {
			break
		}
		require.True(t, time.Now().Before(deadline), "no snapshot")
		time.Sleep(time.Millisecond)
	}
	stop()

	_, err = f.c.CollectAll()
	require.NoError(t, err)
	require.Len(t, mem.reports, 1)
	r := mem.reports[0]
	require.NotNil(t, r.Scope)
	assert.Equal(t, "yes", r.Scope.Tags["collector"])
	require.NotNil(t, r.Runtime)
	require.NotNil(t, r.Runtime.Settings)
	assert.NotZero(t, r.Runtime.Settings.GOMAXPROCS)
	assert.Empty(t, f.runsLeft(t), "the scope file goes with the run")

	// Damaged: garbage of the right size, and a short file.
	for name, content := range map[string][]byte{
		"garbage": func() []byte {
			b := make([]byte, scopesnap.FileSize)
			for i := range b {
				b[i] = byte(i * 7)
			}
			return b
		}(),
		"short": []byte("CGSCOPE1"),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mem := &memOutbox{}
			f.c.Outbox = mem
			f.writeRun(t, []byte(metaLine(t)+scopePanic))
			require.NoError(t, os.WriteFile(filepath.Join(f.runs, runID+"."+runfile.ScopeName), content, 0o600))
			_, err := f.c.CollectAll()
			require.NoError(t, err)
			require.Len(t, mem.reports, 1)
			assert.Nil(t, mem.reports[0].Scope)
			assert.Nil(t, mem.reports[0].Runtime)
			assert.Empty(t, f.runsLeft(t))
		})
	}
}
