//go:build linux

package crashguard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// OmitCrashOutput leaves the raw crash output out of the event, whoever
// sends it (the next start, the monitor), and nothing else: the exception
// parsed from it is still there, and the report on disk keeps the text.
func TestOmitCrashOutputLeavesTheAttachmentOut(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     []string
		monitor bool
		want    int // attachments
	}{
		{"default", nil, false, 1},
		{"default-monitor", []string{"GOCRASH_MONITOR=1"}, true, 1},
		{"omitted-next-start", []string{"GOCRASH_OMIT_OUTPUT=1"}, false, 0},
		{"omitted-monitor", []string{"GOCRASH_OMIT_OUTPUT=1", "GOCRASH_MONITOR=1"}, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := testprogCgo(t, "gocrash", false)
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir := t.TempDir()
			env := append([]string{"SENTRY_DSN=" + recv.DSN()}, c.env...)
			res := runChild(t, bin, dir, env, "panic-main")
			require.Equal(t, 2, res.exit, res.stderr)
			if !c.monitor {
				res = runChild(t, bin, dir, env, "flush")
				require.Contains(t, res.stdout, "gocrash: flush: <nil>", res.stderr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			evs, err := recv.WaitEvents(ctx, 1)
			require.NoError(t, err)
			assert.Equal(t, "gocrash: deliberate panic in main", mainException(evs[0].Event)["value"])
			require.Len(t, evs[0].Attachments, c.want)
			if c.want == 1 {
				assert.Equal(t, sentryevent.CrashOutputFilename, evs[0].Attachments[0].Filename)
				assert.Contains(t, string(evs[0].Attachments[0].Data), "panic: gocrash: deliberate panic in main")
			}
		})
	}
}
