//go:build cgo && linux

package crashguard

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentryschema"
)

// crashEvent runs a crashing child over a fresh directory, collects its one
// report as the next start would, and returns the report's Sentry event
// (validated against Sentry's schema) as decoded JSON.
func crashEvent(t *testing.T, bin string, env []string, args ...string) map[string]any {
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
	return ev
}

// exceptionFrames returns the frames of the event's (last) exception, oldest
// first as sent.
func exceptionFrames(ev map[string]any) []map[string]any {
	values, _ := dig(ev, "exception")["values"].([]any)
	if len(values) == 0 {
		return nil
	}
	frames, _ := dig(values, len(values)-1, "stacktrace")["frames"].([]any)
	out := make([]map[string]any, 0, len(frames))
	for _, f := range frames {
		out = append(out, f.(map[string]any))
	}
	return out
}

// inAppFunctions lists the in-app frames as Sentry groups them: module and
// function for Go frames, function for native ones, oldest first.
func inAppFunctions(frames []map[string]any) []string {
	var out []string
	for _, f := range frames {
		if f["in_app"] != true {
			continue
		}
		name, _ := f["function"].(string)
		if m, _ := f["module"].(string); m != "" {
			name = m + "." + name
		}
		out = append(out, name)
	}
	return out
}

// TestCCrashGroupsByItsOwnCFunction: a C fault in the program's own C code
// has that function as its innermost in-app frame, the system's frames
// (libc, ld.so, the vdso), the Go runtime and cgo's glue are out of app, and
// two different C functions give different in-app frame lists, so Sentry
// groups them apart (issue 10, item 2).
func TestCCrashGroupsByItsOwnCFunction(t *testing.T) {
	bin := testprog(t, "cgocrash")
	tests := []struct {
		mode string
		// inApp is the exact in-app list for a crash on a pthread; for a Go
		// thread, its end.
		inApp  []string
		suffix bool
	}{
		{mode: "c-null-pthread", inApp: []string{"fault_thread", "cgc_fault_outer", "cgc_fault_inner"}},
		{mode: "c-null-pthread-other", inApp: []string{"other_thread", "cgc_other_fault"}},
		{mode: "c-abort-pthread", inApp: []string{"abort_thread", "cgc_abort"}},
		{mode: "c-null-gothread", inApp: []string{"main.cNullWrite", "cgc_fault_outer", "cgc_fault_inner"}, suffix: true},
	}
	lists := map[string][]string{}
	for _, tc := range tests {
		ev := crashEvent(t, bin, nil, "-mode", tc.mode, "-crashguard")
		frames := exceptionFrames(ev)
		require.NotEmpty(t, frames)
		got := inAppFunctions(frames)
		lists[tc.mode] = got
		if tc.suffix {
			require.GreaterOrEqual(t, len(got), len(tc.inApp), "%s: %v", tc.mode, got)
			assert.Equal(t, tc.inApp, got[len(got)-len(tc.inApp):], "%s: in-app frames end in the C code", tc.mode)
		} else {
			assert.Equal(t, tc.inApp, got, "%s: exactly the program's own C frames are in-app", tc.mode)
		}
		for _, f := range frames {
			fn, _ := f["function"].(string)
			mod, _ := f["module"].(string)
			pkg, _ := f["package"].(string)
			glue := strings.HasPrefix(fn, "_cgo_") || strings.HasPrefix(fn, "_Cfunc_") || strings.HasPrefix(fn, "x_cgo_") ||
				strings.HasPrefix(fn, "crosscall") || mod == "runtime"
			system := strings.HasPrefix(pkg, "/lib") || strings.HasPrefix(pkg, "/usr/lib") || strings.HasPrefix(pkg, "linux-vdso")
			if glue || system {
				assert.NotEqual(t, true, f["in_app"], "%s: %s %s %s is not in-app", tc.mode, mod, fn, pkg)
			}
			if f["platform"] == "native" {
				assert.NotEmpty(t, pkg, "%s: a native frame names its image", tc.mode)
				assert.NotContains(t, fn, ".", "%s: Go functions found by the native walk are Go frames, not native ones", tc.mode)
			}
		}
	}
	assert.NotEqual(t, lists["c-null-pthread"], lists["c-null-pthread-other"],
		"two different C functions faulting give different in-app frame lists")
}
