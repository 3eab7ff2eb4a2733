//go:build unix

package crashguard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentryschema"
)

// groupingView is what Sentry's grouping reads of an event's exceptions:
// type, and the in-app frames' module, function, filename/abs_path and line
// (getsentry/sentry grouping/strategies/newstyle.py; the line only for
// display, kept here to be strict), plus the value, which is used when no
// frame contributes.
func groupingView(ev map[string]any) []string {
	var out []string
	values, _ := dig(ev, "exception")["values"].([]any)
	for i := range values {
		exc := dig(values, i)
		out = append(out, fmt.Sprintf("exception %v: %v", exc["type"], exc["value"]))
		frames, _ := dig(exc, "stacktrace")["frames"].([]any)
		for _, f := range frames {
			fm := f.(map[string]any)
			if fm["in_app"] != true {
				continue
			}
			out = append(out, fmt.Sprintf("  %v | %v | %v%v | %v", fm["module"], fm["function"], fm["filename"], fm["abs_path"], fm["lineno"]))
		}
	}
	return out
}

// TestGoPanicGroupsTheSameWithAndWithoutCgo: the same Go crash in a cgo
// build (native layer on: the signal handler's record and native frames
// join the report) and in a CGO_ENABLED=0 build gives the same grouping
// view, no frame twice, and no native frame (so Sentry neither treats the
// event as native nor asks for a debug file) (issue 10, item 3).
func TestGoPanicGroupsTheSameWithAndWithoutCgo(t *testing.T) {
	cgoBin := testprogCgo(t, "gocrash", true)
	nocgoBin := testprogCgo(t, "gocrash", false)
	faults := map[string]bool{"nil-deref": true, "fault-addr": true, "rt-panic-on-fault": true}
	for _, mode := range []string{"nil-deref", "fault-addr", "rt-panic-on-fault", "panic-goroutine", "panic-main", "nested-panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			withCgo, r := crashEvent(t, cgoBin, nil, mode)
			without, _ := crashEvent(t, nocgoBin, nil, mode)
			want := groupingView(without)
			require.NotEmpty(t, want)
			assert.Equal(t, want, groupingView(withCgo), "the same crash groups the same with cgo on and off")

			// Not only the in-app ones: every frame once, as without cgo.
			frames := exceptionFrames(withCgo)
			assert.Equal(t, frameFunctions(exceptionFrames(without)), frameFunctions(frames),
				"the cgo build's frames are the Go traceback's, none twice")
			for _, f := range frames {
				assert.NotEqual(t, "native", f["platform"], "a Go crash has no native frame: %v", f)
			}
			if faults[mode] {
				// The case this is about: the native walk described the
				// same frames as the traceback.
				require.NotNil(t, r.Native, "the signal handler's record joined the report")
				require.NotEmpty(t, r.Native.Frames)
				assert.Contains(t, fmt.Sprint(frames), "instruction_addr",
					"the native walk's pc joins the Go frame it describes")
			}
		})
	}
}

// frameFunctions lists module.function of every frame.
func frameFunctions(frames []map[string]any) []string {
	out := make([]string, 0, len(frames))
	for _, f := range frames {
		out = append(out, fmt.Sprintf("%v.%v", f["module"], f["function"]))
	}
	return out
}

// crashEvent runs a crashing child over a fresh directory, collects its one
// report as the next start would, and returns the report's Sentry event
// (validated against Sentry's schema) as decoded JSON, and the report.
func crashEvent(t *testing.T, bin string, env []string, args ...string) (map[string]any, *report.Report) {
	t.Helper()
	dir := t.TempDir()
	got := runChild(t, bin, dir, env, args...)
	require.NotEqual(t, 0, got.exit, "the child crashed; stderr:\n%s", got.stderr)
	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "one report; stderr:\n%s", got.stderr)
	r, err := g.outbox.Load(pending[0].EventID)
	require.NoError(t, err)
	body, err := sentryevent.Build(r, sentryevent.Options{})
	require.NoError(t, err)
	require.NoError(t, sentryschema.Validate(body), "%s", body)
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&ev))
	return ev, r
}

// exceptionFrames returns the frames of the event's crash exception (the
// last non-root value: a chain ends with its root, which has no stack),
// oldest first as sent.
func exceptionFrames(ev map[string]any) []map[string]any {
	values, _ := dig(ev, "exception")["values"].([]any)
	var frames []any
	for i := len(values) - 1; i >= 0 && frames == nil; i-- {
		frames, _ = dig(values, i, "stacktrace")["frames"].([]any)
	}
	out := make([]map[string]any, 0, len(frames))
	for _, f := range frames {
		out = append(out, f.(map[string]any))
	}
	return out
}
