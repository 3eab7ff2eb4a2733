package sentryevent

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

var goroutineHeaderRE = regexp.MustCompile(`(?m)^goroutine [0-9]+ `)

// synthesizeCrash keeps the head and crashed goroutine of a real crash output
// and appends its other goroutine blocks over and over, with fresh ids, until
// there are n goroutines (as internal/traceback's benchmark does).
func synthesizeCrash(t *testing.T, real []byte, n int) []byte {
	t.Helper()
	var head, others [][]byte
	for _, blk := range bytes.Split(real, []byte("\n\n")) {
		switch {
		case others == nil && (len(head) == 0 || !goroutineHeaderRE.Match(head[len(head)-1])):
			head = append(head, blk)
			if goroutineHeaderRE.Match(blk) {
				others = [][]byte{}
			}
		case goroutineHeaderRE.Match(blk):
			others = append(others, blk)
		}
	}
	require.NotEmpty(t, others)
	var out bytes.Buffer
	out.Write(bytes.Join(head, []byte("\n\n")))
	for i := 1; i < n; i++ {
		blk := goroutineHeaderRE.ReplaceAll(others[i%len(others)], []byte(fmt.Sprintf("goroutine %d ", 100+i)))
		out.WriteString("\n\n")
		out.Write(blk)
	}
	out.WriteString("\n")
	return out.Bytes()
}

// reportFromOutput builds the report the collector would make from a crash
// output with traceback "all".
func reportFromOutput(t *testing.T, out []byte) *report.Report {
	t.Helper()
	res, err := traceback.Parse(out)
	require.NoError(t, err)
	r := &report.Report{
		FormatVersion: report.FormatVersion, EventID: testEventID, RunID: "run-big",
		Kind: res.Kind, Message: res.Message, Panics: res.Panics, Signal: res.Signal,
		Goroutines: res.Goroutines, CrashedGoroutine: res.CrashedGoroutine,
		Process: baseProcess("linux", "amd64"), CrashOutput: string(out),
	}
	r.Process.Traceback = "all"
	for gi := range r.Goroutines {
		for fi := range r.Goroutines[gi].Frames {
			f := &r.Goroutines[gi].Frames[fi]
			f.InApp = f.Package == "main"
		}
	}
	return r
}

// distinctReport is a crash with n other goroutines, each with its own stack
// (so none can be folded), in alternating states, and a deep crashed
// goroutine created by goroutine 1.
func distinctReport(n int) *report.Report {
	r := panicReport()
	r.Process.Traceback = "all"
	crashed := report.Goroutine{ID: 77, State: "running", Crashed: true, CreatedByGoroutine: 1,
		CreatedBy: &report.Frame{Function: "main.main", Package: "main", File: "/src/app/main.go", Line: 20}}
	for i := range 60 {
		crashed.Frames = append(crashed.Frames, report.Frame{
			Function: fmt.Sprintf("example.com/app.step%d", i), Package: "example.com/app",
			File: "/src/app/steps.go", Line: 100 + i, InApp: true,
		})
	}
	r.Goroutines = []report.Goroutine{crashed}
	r.CrashedGoroutine = 77
	states := []string{"chan receive", "select", "IO wait", "sync.Mutex.Lock"}
	for i := range n {
		g := report.Goroutine{ID: int64(1000 + i), State: states[i%len(states)], WaitMinutes: i % 7}
		if i == 0 {
			g.ID = 1 // the creator of the crashed goroutine
		}
		if i == 5000 {
			g.State = "running"
		}
		for d := range 6 {
			g.Frames = append(g.Frames, report.Frame{
				Function: fmt.Sprintf("example.com/app/worker.handle%d.func%d", i, d), Package: "example.com/app/worker",
				File: "/src/app/worker/handlers.go", Line: 10*d + i%10, InApp: true,
			})
		}
		r.Goroutines = append(r.Goroutines, g)
	}
	return r
}

// unfitted is the event JSON before any fitting, for comparison.
func unfitted(t *testing.T, r *report.Report) []byte {
	t.Helper()
	ev, x, err := prepare(r, Options{})
	require.NoError(t, err)
	b, err := canonicalize(ev, x)
	require.NoError(t, err)
	return b
}

type bigEvent struct {
	raw   []byte
	event map[string]any
	atts  []sentrytest.Attachment
	fit   Fit
	env   []byte
}

func envelopeOf(t *testing.T, r *report.Report, opts Options) bigEvent {
	t.Helper()
	env, fit, err := EnvelopeFit(r, opts)
	require.NoError(t, err)
	e, err := sentrytest.ParseEnvelope(env)
	require.NoError(t, err)
	var out bigEvent
	out.fit, out.env = fit, env
	for _, it := range e.Items {
		switch it.Type {
		case "event":
			out.raw = it.Payload
			dec := json.NewDecoder(bytes.NewReader(it.Payload))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&out.event))
		case "attachment":
			fn, _ := it.Header["filename"].(string)
			out.atts = append(out.atts, sentrytest.Attachment{Filename: fn, Data: it.Payload})
		}
	}
	require.NotNil(t, out.event)
	require.Equal(t, len(out.raw), fit.EventSize)
	requireValidEvent(t, out.raw)
	return out
}

func gzipSize(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Len()
}

func threadList(t *testing.T, ev map[string]any) []map[string]any {
	t.Helper()
	vals := ev["threads"].(map[string]any)["values"].([]any)
	out := make([]map[string]any, len(vals))
	for i, v := range vals {
		out[i] = v.(map[string]any)
	}
	return out
}

func exceptionFrames(t *testing.T, ev map[string]any) []any {
	t.Helper()
	vals := ev["exception"].(map[string]any)["values"].([]any)
	last := vals[len(vals)-1].(map[string]any)
	return last["stacktrace"].(map[string]any)["frames"].([]any)
}

// wantFrames is the JSON Sentry should get for the crashed goroutine's frames.
func wantFrames(t *testing.T, g *report.Goroutine) []any {
	t.Helper()
	b, err := json.Marshal(goStack(g.Frames))
	require.NoError(t, err)
	var out []any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return out
}

func crashguardCtx(ev map[string]any) map[string]any {
	return ev["contexts"].(map[string]any)["crashguard"].(map[string]any)
}

func num(t *testing.T, v any) int {
	t.Helper()
	n, err := strconv.Atoi(fmt.Sprint(v))
	require.NoError(t, err, "%v", v)
	return n
}

func TestTenThousandRealGoroutinesFoldIntoTheBudget(t *testing.T) {
	real, err := os.ReadFile("../traceback/testdata/go1.26/panic_states.all.crash.txt")
	require.NoError(t, err)
	out := synthesizeCrash(t, real, 10000)
	r := reportFromOutput(t, out)
	require.Len(t, r.Goroutines, 10000)
	crashed := crashedGoroutine(r)
	require.NotNil(t, crashed)

	before := unfitted(t, r)
	got := envelopeOf(t, r, Options{})
	t.Logf("10,000 goroutines (real blocks): event %d → %d bytes (gzip %d), envelope %d bytes, gzip %d",
		len(before), len(got.raw), gzipSize(t, got.raw), len(got.env), gzipSize(t, got.env))
	require.Greater(t, len(before), MaxEventSize)
	assert.LessOrEqual(t, len(got.raw), DefaultEventBudget)

	// The other goroutines repeat a few real blocks: each distinct state and
	// stack becomes one thread; nothing has to be left out.
	distinct := map[string]bool{}
	for _, g := range r.Goroutines {
		if g.Crashed {
			continue
		}
		var k strings.Builder
		k.WriteString(g.State)
		for _, f := range g.Frames {
			fmt.Fprintf(&k, "|%s %s:%d %x", f.Function, f.File, f.Line, f.PC)
		}
		distinct[k.String()] = true
	}
	threads := threadList(t, got.event)
	assert.Len(t, threads, len(distinct)+1)
	c := crashguardCtx(got.event)
	assert.Equal(t, len(distinct)+1, num(t, c["threads_sent"]))
	assert.Equal(t, 10000-len(distinct)-1, num(t, c["threads_folded"]))
	assert.Equal(t, 0, num(t, c["threads_omitted"]))
	assert.Equal(t, Fit{EventSize: len(got.raw), Budget: DefaultEventBudget, Threads: len(distinct) + 1,
		ThreadsFolded: 10000 - len(distinct) - 1}, got.fit)

	// Every folded thread's name says how many it stands for; together
	// with the crashed one they are all 10,000.
	more := regexp.MustCompile(` \+ ([0-9]+) more with this stack \(`)
	total := 0
	for _, th := range threads {
		total++
		if m := more.FindStringSubmatch(th["name"].(string)); m != nil {
			n, _ := strconv.Atoi(m[1])
			total += n
		}
	}
	assert.Equal(t, 10000, total)

	// The crashed goroutine is whole, in the exception and in its thread.
	assert.Equal(t, wantFrames(t, crashed), exceptionFrames(t, got.event))
	var crashedThread map[string]any
	for _, th := range threads {
		if th["crashed"] == true {
			crashedThread = th
		}
	}
	require.NotNil(t, crashedThread)
	assert.Equal(t, json.Number(strconv.FormatInt(crashed.ID, 10)), crashedThread["id"])
	assert.Equal(t, wantFrames(t, crashed), crashedThread["stacktrace"].(map[string]any)["frames"])

	// The raw output, every goroutine, is the attachment, untouched.
	require.Len(t, got.atts, 1)
	assert.Equal(t, CrashOutputFilename, got.atts[0].Filename)
	assert.Equal(t, out, got.atts[0].Data)
}

func TestTenThousandDistinctGoroutinesLeaveOutWhatDoesNotFitAndSaySo(t *testing.T) {
	r := distinctReport(10000)
	crashed := crashedGoroutine(r)
	before := unfitted(t, r)

	for _, tc := range []struct {
		name   string
		opts   Options
		budget int
	}{
		{"default", Options{}, DefaultEventBudget},
		{"small", Options{MaxEventSize: SmallEventBudget}, SmallEventBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := envelopeOf(t, r, tc.opts)
			t.Logf("10,001 distinct goroutines, budget %d: event %d → %d bytes (gzip %d), %d threads sent",
				tc.budget, len(before), len(got.raw), gzipSize(t, got.raw), got.fit.Threads)
			assert.LessOrEqual(t, len(got.raw), tc.budget)
			assert.Greater(t, len(got.raw), tc.budget*3/4, "the budget is used, not wasted")

			threads := threadList(t, got.event)
			c := crashguardCtx(got.event)
			sent := num(t, c["threads_sent"])
			omitted := num(t, c["threads_omitted"])
			assert.Equal(t, len(threads), sent)
			assert.Equal(t, 0, num(t, c["threads_folded"]))
			assert.Equal(t, 10001, sent+omitted)
			assert.Equal(t, Fit{EventSize: len(got.raw), Budget: tc.budget, Threads: sent, ThreadsOmitted: omitted}, got.fit)

			// Omitted by state adds up, and matches the goroutines not sent.
			sentIDs := map[string]bool{}
			for _, th := range threads {
				sentIDs[fmt.Sprint(th["id"])] = true
			}
			wantByState := map[string]int{}
			for _, g := range r.Goroutines {
				if !sentIDs[strconv.FormatInt(g.ID, 10)] {
					wantByState[g.State]++
				}
			}
			gotByState := map[string]int{}
			for s, n := range c["threads_omitted_by_state"].(map[string]any) {
				gotByState[s] = num(t, n)
			}
			assert.Equal(t, wantByState, gotByState)

			// What matters is kept: the crashed goroutine (first, whole),
			// its creator, the running one; the rest in printed order.
			assert.Equal(t, "77", fmt.Sprint(threads[0]["id"]))
			assert.Equal(t, true, threads[0]["crashed"])
			assert.Equal(t, wantFrames(t, crashed), threads[0]["stacktrace"].(map[string]any)["frames"])
			assert.Equal(t, wantFrames(t, crashed), exceptionFrames(t, got.event))
			assert.True(t, sentIDs["1"], "the crashed goroutine's creator")
			assert.True(t, sentIDs["6000"], "the running goroutine")
			assert.True(t, sentIDs["1001"], "the first others in printed order")
			assert.False(t, sentIDs[strconv.Itoa(1000+9999)], "the last is left out")
		})
	}
}

func TestHugeMessageIsCutWithAMarker(t *testing.T) {
	r := plainPanicReport()
	r.Message = strings.Repeat("é", 4<<20) // 8 MiB, 4 Mi characters
	r.CrashOutput = "panic: " + r.Message + "\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/app/main.go:30 +0x1d\n"
	got := envelopeOf(t, r, Options{})
	t.Logf("8 MiB message: event %d bytes", len(got.raw))
	assert.Less(t, len(got.raw), 64<<10)
	vals := got.event["exception"].(map[string]any)["values"].([]any)
	v := vals[0].(map[string]any)["value"].(string)
	assert.Equal(t, MaxValueChars, utf8.RuneCountInString(v))
	marker := fmt.Sprintf(" … [cut by crashguard: %d bytes in all; the full text is in go-crash-output.txt]", len(r.Message))
	assert.True(t, strings.HasSuffix(v, marker), v[len(v)-200:])
	assert.True(t, strings.TrimSuffix(v, marker) == strings.Repeat("é", MaxValueChars-utf8.RuneCountInString(marker)), "the head is kept")
	assert.Equal(t, 1, num(t, crashguardCtx(got.event)["values_cut"]))
	assert.Equal(t, 1, got.fit.ValuesCut)
	// The attachment is under its cap and keeps the message whole.
	require.Len(t, got.atts, 1)
	assert.True(t, r.CrashOutput == string(got.atts[0].Data), "the attachment is the whole output")
}

func TestAttachmentIsCappedAtALineWithAMarker(t *testing.T) {
	r := panicReport()
	line := "goroutine 9 [chan receive]:\n"
	r.CrashOutput = strings.Repeat(line, (12<<20)/len(line))
	got := envelopeOf(t, r, Options{})
	require.Len(t, got.atts, 1)
	a := got.atts[0].Data
	assert.LessOrEqual(t, len(a), DefaultMaxAttachmentSize)
	marker := fmt.Sprintf("\n[cut by crashguard: %d of %d bytes kept, the limit for one attachment]\n", DefaultMaxAttachmentSize, len(r.CrashOutput))
	require.True(t, bytes.HasSuffix(a, []byte(marker)))
	head := a[:len(a)-len(marker)]
	assert.True(t, strings.HasPrefix(r.CrashOutput, string(head)+"\n"), "cut at a line break")
	assert.Greater(t, len(head), DefaultMaxAttachmentSize-len(line)-len(marker)-1)
	assert.Equal(t, 1, got.fit.AttachmentsCut)
	assert.Equal(t, 1, num(t, crashguardCtx(got.event)["attachments_cut"]))

	small := envelopeOf(t, r, Options{MaxAttachmentSize: SmallAttachmentSize})
	assert.LessOrEqual(t, len(small.atts[0].Data), SmallAttachmentSize)
}

func TestSmallEventIsNotTouched(t *testing.T) {
	r := panicReport()
	got := envelopeOf(t, r, Options{})
	assert.False(t, got.fit.Trimmed())
	assert.Equal(t, unfitted(t, r), got.raw)
	assert.NotContains(t, crashguardCtx(got.event), "size_budget")
}

func TestBudgetOptionIsClamped(t *testing.T) {
	assert.Equal(t, DefaultEventBudget, Options{}.eventBudget())
	assert.Equal(t, MaxEventSize, Options{MaxEventSize: 5 << 20}.eventBudget())
	assert.Equal(t, MinEventBudget, Options{MaxEventSize: 10}.eventBudget())
	assert.Equal(t, DefaultMaxAttachmentSize, Options{MaxAttachmentSize: 1 << 30}.attachmentBudget())
	assert.Equal(t, minAttachmentSize, Options{MaxAttachmentSize: 1}.attachmentBudget())
}

func TestEventThatCannotFitIsAnError(t *testing.T) {
	r := distinctReport(100)
	opts := Options{BeforeSend: func(ev *sentry.Event) *sentry.Event {
		ev.Contexts["blob"] = sentry.Context{"x": strings.Repeat("x", 2<<20)}
		return ev
	}}
	_, fit, err := EnvelopeFit(r, opts)
	require.ErrorIs(t, err, ErrEventTooLarge)
	assert.Equal(t, 1, fit.Threads, "every goroutine but the crashed one was left out first")
	assert.Equal(t, 100, fit.ThreadsOmitted)
	assert.Greater(t, fit.EventSize, MaxEventSize)
}
