//go:build unix

package crashguard

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

const nestedGo = "../testprogs/gocrash/nested.go"

// TestNestedPanicIsAChainLedByTheFirstPanic: a panic in a deferred call of a
// panic (here three: an index out of range, recovered and panicked again
// with more context, then a failing cleanup) is reported with every panic
// Go printed, in order, and delivered as a chained exception list whose
// first value is the first panic, each marked handled as Go printed it
// ([recovered]), closed by the exception-group root that makes Sentry title
// and group the issue by the first panic (internal/sentryevent/chain.go).
func TestNestedPanicIsAChainLedByTheFirstPanic(t *testing.T) {
	bin := testprog(t, "gocrash")
	recv := sentrytest.New()
	t.Cleanup(recv.Close)

	dir := t.TempDir()
	got := runChild(t, bin, dir, nil, "nested-panic")
	require.Contains(t, got.stdout, "gocrash: installed run=", "stderr:\n%s", got.stderr)
	baseline := runChild(t, bin, t.TempDir(), []string{"CRASHGUARD_DISABLE=1"}, "nested-panic")
	assert.Equal(t, 2, got.exit, "stderr:\n%s", got.stderr)
	assert.Equal(t, baseline.exit, got.exit, "crashguard must not change the exit status")
	assert.Equal(t, baseline.signal, got.signal, "crashguard must not change the killing signal")

	g := newTestGuard(t, dir, recv.DSN())
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "exactly one report; child stderr:\n%s", got.stderr)
	r, err := g.outbox.Load(pending[0].EventID)
	require.NoError(t, err)

	const (
		first  = "runtime error: index out of range [5] with length 3"
		second = "gocrash: request failed: " + first
		third  = "gocrash: cleanup failed"
	)
	assert.Equal(t, report.KindPanic, r.Kind)
	assert.Equal(t, third, r.Message, "the message is the panic that killed the process")
	assert.False(t, r.MessageInferred)
	assert.Equal(t, []report.Panic{
		{Value: first, Recovered: true},
		{Value: second},
		{Value: third},
	}, r.Panics, "crash output:\n%s", r.CrashOutput)
	assert.Equal(t, int64(1), r.CrashedGoroutine)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, g.Flush(ctx))
	ev := waitEvent(t, recv, r.EventID)
	require.NoError(t, ev.SchemaErr, "the event validates against Sentry's schema")

	values, _ := dig(ev.Event, "exception")["values"].([]any)
	require.Len(t, values, 4, "three panics and the root")

	// Everything but the stacks, exactly.
	var heads []map[string]any
	for i := range values {
		exc := dig(values, i)
		head := map[string]any{}
		for k, v := range exc {
			if k != "stacktrace" {
				head[k] = v
			}
		}
		heads = append(heads, head)
	}
	n := func(i int) json.Number { return json.Number(fmt.Sprint(i)) }
	assert.Equal(t, []map[string]any{
		{"type": "runtime.boundsError", "value": first, "thread_id": n(1), "mechanism": map[string]any{
			"type": "go.panic", "handled": true, "data": map[string]any{"recovered": true},
			"exception_id": n(3), "parent_id": n(0)}},
		{"type": "panic", "value": second, "thread_id": n(1), "mechanism": map[string]any{
			"type": "go.panic", "handled": false,
			"exception_id": n(2), "parent_id": n(3), "source": "defer"}},
		{"type": "panic", "value": third, "thread_id": n(1), "mechanism": map[string]any{
			"type": "go.panic", "handled": false,
			"exception_id": n(1), "parent_id": n(2), "source": "defer"}},
		{"type": "runtime.boundsError", "value": first, "mechanism": map[string]any{
			"type": "go.panic_chain", "handled": false, "is_exception_group": true,
			"exception_id": n(0)}},
	}, heads)

	// Each panic's stack is where it was raised: oldest frame first, the
	// runtime's "panic" frames between them.
	mainLine := lineOf(t, "../testprogs/gocrash/main.go", "modes[os.Args[1]]()")
	outer := []string{
		fmt.Sprintf("main.main:%d", mainLine),
		fmt.Sprintf("main.nestedPanic:%d", lineOf(t, nestedGo, "fmt.Println(items[i])")),
	}
	second2 := append(append([]string{}, outer...), "panic",
		fmt.Sprintf("main.addContext:%d", lineOf(t, nestedGo, `panic(fmt.Sprintf("gocrash: request failed: %v", r))`)))
	third3 := append(append([]string{}, second2...), "panic",
		fmt.Sprintf("main.cleanup:%d", lineOf(t, nestedGo, `panic(errors.New("gocrash: cleanup failed"))`)))
	assert.Equal(t, outer, stackSummary(dig(values, 0)))
	assert.Equal(t, second2, stackSummary(dig(values, 1)))
	assert.Equal(t, third3, stackSummary(dig(values, 2)))
	assert.Nil(t, dig(values, 3)["stacktrace"], "the root has no stack of its own")

	threads, _ := dig(ev.Event, "threads")["values"].([]any)
	require.Len(t, threads, 1)
	assert.Equal(t, third3, stackSummary(dig(threads, 0)), "the crashed thread is the whole goroutine")
}

// stackSummary lists an exception's or thread's frames, oldest first, as
// "module.function:line" for frames of package main and the bare function
// for the runtime's "panic" frames (their line is the Go release's).
func stackSummary(obj map[string]any) []string {
	frames, _ := dig(obj, "stacktrace")["frames"].([]any)
	var out []string
	for i := range frames {
		f := dig(frames, i)
		if f["module"] == "main" {
			out = append(out, fmt.Sprintf("main.%s:%d", f["function"], num(f["lineno"])))
			continue
		}
		out = append(out, fmt.Sprint(f["function"]))
	}
	return out
}
