//go:build unix

package crashguard

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentryschema"
)

// TestRuntimeErrorTypesMatchSentryGo crashes gocrash once per entry of the
// runtime error table (internal/sentryevent/runtimeerrors.go) on this Go
// release, and recovers the same panic with sentry-go's Hub.Recover in a
// second run: crashguard's exception type and value must be exactly the
// table's, and the same as sentry-go's. Where the crash output cannot tell
// the type (any error or string value of the program's own), crashguard
// says "panic" with the printed value, where sentry-go names the error's
// type or sends a message event.
func TestRuntimeErrorTypesMatchSentryGo(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	const nilDeref = "runtime error: invalid memory address or nil pointer dereference"
	tests := []struct {
		mode, typ, value string
		// sentryGo is sentry-go's type when crashguard cannot know it; ""
		// means the same as typ, "message" a message event.
		sentryGo string
	}{
		{mode: "rt-index", typ: "runtime.boundsError", value: "runtime error: index out of range [5] with length 3"},
		{mode: "rt-slice", typ: "runtime.boundsError", value: "runtime error: slice bounds out of range [:7] with capacity 4"},
		{mode: "rt-convert", typ: "runtime.boundsError", value: "runtime error: cannot convert slice with length 2 to array or pointer to array with length 4"},
		{mode: "rt-nil-deref", typ: "runtime.errorString", value: nilDeref},
		{mode: "rt-panic-on-fault", typ: "runtime.errorAddressString", value: nilDeref},
		{mode: "rt-divide", typ: "runtime.errorString", value: "runtime error: integer divide by zero"},
		{mode: "rt-shift", typ: "runtime.errorString", value: "runtime error: negative shift amount"},
		{mode: "rt-makeslice", typ: "runtime.errorString", value: "runtime error: makeslice: len out of range"},
		{mode: "rt-growslice", typ: "runtime.errorString", value: "runtime error: growslice: len out of range"},
		{mode: "rt-unhashable", typ: "runtime.errorString", value: "runtime error: hash of unhashable type []int"},
		{mode: "rt-uncomparable", typ: "runtime.errorString", value: "runtime error: comparing uncomparable type []int"},
		{mode: "rt-unsafe-slice", typ: "runtime.errorString", value: "runtime error: unsafe.Slice: ptr is nil and len is not zero"},
		{mode: "rt-unsafe-string", typ: "runtime.errorString", value: "runtime error: unsafe.String: ptr is nil and len is not zero"},
		{mode: "rt-range-func", typ: "runtime.errorString", value: "runtime error: range function continued iteration after function for loop body returned false"},
		{mode: "rt-nil-map", typ: "runtime.plainError", value: "assignment to entry in nil map"},
		{mode: "rt-close-nil", typ: "runtime.plainError", value: "close of nil channel"},
		{mode: "rt-close-closed", typ: "runtime.plainError", value: "close of closed channel"},
		{mode: "rt-send-closed", typ: "runtime.plainError", value: "send on closed channel"},
		{mode: "rt-makechan", typ: "runtime.plainError", value: "makechan: size out of range"},
		{mode: "rt-type-assert", typ: "*runtime.TypeAssertionError", value: "interface conversion: interface {} is string, not int"},
		{mode: "rt-panic-nil", typ: "*runtime.PanicNilError", value: "panic called with nil argument"},
		// Not the runtime's: the output has the text, not the type.
		{mode: "rt-error-value", typ: "panic", value: "gocrash: wrapped: file does not exist", sentryGo: "*fmt.wrapError"},
		{mode: "rt-string-value", typ: "panic", value: "gocrash: a string", sentryGo: "message"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			got := runChild(t, bin, dir, nil, tc.mode)
			require.Equal(t, 2, got.exit, "an unrecovered panic; stderr:\n%s", got.stderr)

			g := newTestGuard(t, dir, "")
			pending, err := g.Pending()
			require.NoError(t, err)
			require.Len(t, pending, 1, "stderr:\n%s", got.stderr)
			r, err := g.outbox.Load(pending[0].EventID)
			require.NoError(t, err)
			require.Equal(t, report.KindPanic, r.Kind)
			body, err := sentryevent.Build(r, sentryevent.Options{})
			require.NoError(t, err)
			require.NoError(t, sentryschema.Validate(body), "%s", body)
			var ev map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&ev))
			values, _ := dig(ev, "exception")["values"].([]any)
			require.Len(t, values, 1)
			exc := dig(values, 0)
			assert.Equal(t, tc.typ, exc["type"], "crash output:\n%s", r.CrashOutput)
			assert.Equal(t, tc.value, exc["value"])
			assert.NotContains(t, exc["type"], tc.value, "the type never repeats the value")

			sg := sentryGoNames(t, bin, tc.mode)
			switch tc.sentryGo {
			case "":
				assert.Equal(t, map[string]string{"type": tc.typ, "value": tc.value, "message": ""}, sg, "sentry-go's Recover of the same panic")
			case "message":
				assert.Equal(t, map[string]string{"message": tc.value}, sg, "sentry-go sends a string as a message event")
			default:
				assert.Equal(t, map[string]string{"type": tc.sentryGo, "value": tc.value, "message": ""}, sg, "sentry-go names the error's dynamic type")
			}
		})
	}
}

// sentryGoNames runs a gocrash rt-* mode with GOCRASH_SENTRYGO=1 and returns
// what sentry-go's Recover made of the panic.
func sentryGoNames(t *testing.T, bin, mode string) map[string]string {
	t.Helper()
	got := runChild(t, bin, t.TempDir(), []string{"GOCRASH_SENTRYGO=1"}, mode)
	require.Equal(t, 0, got.exit, "stderr:\n%s", got.stderr)
	for _, line := range strings.Split(got.stdout, "\n") {
		if js, ok := strings.CutPrefix(line, "gocrash: sentry-go "); ok {
			out := map[string]string{}
			require.NoError(t, json.Unmarshal([]byte(js), &out))
			return out
		}
	}
	t.Fatalf("no sentry-go line in:\n%s", got.stdout)
	return nil
}
