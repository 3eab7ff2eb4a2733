//go:build unix

package crashguard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// TestLabelsOnCrash: runtime/pprof labels set with pprof.Do become tags
// (label.K) and contexts.goroutine of the event of the goroutine that
// crashed under them, and every labelled goroutine's thread name carries
// its own, at the test receiver and within Sentry's schema. The children
// are testprogs/gocrash's labels-* modes, run with GODEBUG=tracebacklabels=1
// (Go 1.26 prints labels only then) and GOTRACEBACK=all.
func TestLabelsOnCrash(t *testing.T) {
	const user = "u\"q\\ \n\t\x01 ä 😀"
	requestTags := map[string]any{"label.request_id": "r-17", "label.user": "u\"q\\   \x20 ä 😀"}
	for _, c := range []struct {
		name, mode string
		cgo        bool
		godebug    string
		tags       map[string]any // label.* tags of the event
	}{
		// A goroutine started inside pprof.Do inherits the labels and
		// keeps them while it panics.
		{"goroutine-panic", "labels-goroutine", false, "tracebacklabels=1", requestTags},
		{"goroutine-panic-cgo", "labels-goroutine", true, "tracebacklabels=1", requestTags},
		// A fatal error runs no deferred call: pprof.Do's labels stay.
		{"concurrent-map", "labels-map", false, "tracebacklabels=1", requestTags},
		// A panic right inside pprof.Do's function unwinds pprof.Do's
		// deferred restore before Go prints: the labels are gone from
		// the crash output, so from the event (documented).
		{"panic-in-do", "labels-panic", false, "tracebacklabels=1", nil},
		// Go 1.26 prints no labels without the setting.
		{"no-godebug", "labels-goroutine", false, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := testprogCgo(t, "gocrash", c.cgo)
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir := t.TempDir()
			env := []string{"GOCRASH_TRACEBACK=all"}
			if c.godebug != "" {
				env = append(env, "GODEBUG="+c.godebug)
			}
			got := runChild(t, bin, dir, env, c.mode)
			require.Equal(t, 2, got.exit, "stderr:\n%s", got.stderr)

			g := newTestGuard(t, dir, recv.DSN())
			pending, err := g.Pending()
			require.NoError(t, err)
			require.Len(t, pending, 1, "stderr:\n%s", got.stderr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, g.Flush(ctx))
			rec := waitEvent(t, recv, pending[0].EventID)
			require.NoError(t, rec.SchemaErr, "the event validates against Sentry's schema")
			ev := rec.Event

			tags := map[string]any{}
			for k, v := range dig(ev, "tags") {
				if strings.HasPrefix(k, "label.") {
					tags[k] = v
				}
			}
			if c.tags == nil {
				assert.Empty(t, tags)
				assert.Nil(t, dig(ev, "contexts")["goroutine"])
			} else {
				assert.Equal(t, c.tags, tags)
				gc := dig(ev, "contexts", "goroutine")
				assert.Equal(t, map[string]any{"request_id": "r-17", "user": user}, gc["labels"])
				assert.Equal(t, num(dig(ev, "contexts", "crashguard")["crashed_goroutine"]), num(gc["id"]))
			}

			// Threads: the crashed one first; the parked workers carry
			// their labels whenever Go printed labels at all.
			var crashedName string
			workers := 0
			values, _ := dig(ev, "threads")["values"].([]any)
			for i := range values {
				th := dig(values, i)
				name, _ := th["name"].(string)
				if th["crashed"] == true {
					crashedName = name
				}
				if strings.Contains(name, `labels:{"worker": "w-`) {
					workers++
				}
			}
			if c.godebug != "" {
				assert.Equal(t, 2, workers, "worker threads with their labels")
			} else {
				assert.Zero(t, workers)
			}
			if c.tags != nil {
				assert.Contains(t, crashedName, `labels:{"request_id": "r-17", "user": `)
			} else {
				assert.NotContains(t, crashedName, "labels:")
			}
		})
	}
}

// TestLabelsExample runs examples/labels as the README shows it: one
// request to itself under the middleware's labels (no GODEBUG from the
// test: the example sets it), a crash only when -crash asks, and then the
// event carries label.request_id and label.route.
func TestLabelsExample(t *testing.T) {
	bin := testprogCgo(t, "examples/labels", false)
	dir := t.TempDir()
	got := runChild(t, bin, dir, nil)
	require.Equal(t, 0, got.exit, "stderr:\n%s", got.stderr)
	assert.Equal(t, "labels: request r-17 done\n", got.stdout)

	for _, mode := range []string{"goroutine", "map"} {
		t.Run(mode, func(t *testing.T) {
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir := t.TempDir()
			got := runChild(t, bin, dir, nil, "-crash", mode)
			require.Equal(t, 2, got.exit, "stderr:\n%s", got.stderr)
			g := newTestGuard(t, dir, recv.DSN())
			pending, err := g.Pending()
			require.NoError(t, err)
			require.Len(t, pending, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, g.Flush(ctx))
			rec := waitEvent(t, recv, pending[0].EventID)
			require.NoError(t, rec.SchemaErr)
			tags := dig(rec.Event, "tags")
			assert.Equal(t, "r-17", tags["label.request_id"])
			assert.Equal(t, "/work", tags["label.route"])
		})
	}
}
