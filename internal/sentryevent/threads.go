package sentryevent

import (
	"strconv"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// threads lists every goroutine as a Sentry thread, in printed order, each
// with its own stack trace (the crashed one included, so that the list is a
// faithful copy of the traceback; the exception adds native frames and
// registers on top). A fault on a thread Go did not create adds that thread.
func threads(r *report.Report) []sentry.Thread {
	crashed := crashedGoroutine(r)
	out := make([]sentry.Thread, 0, len(r.Goroutines)+1)
	for i := range r.Goroutines {
		g := &r.Goroutines[i]
		t := sentry.Thread{
			ID:      strconv.FormatInt(g.ID, 10),
			Name:    goroutineName(g),
			Crashed: g == crashed,
			Current: g == crashed,
		}
		if len(g.Frames) > 0 {
			t.Stacktrace = &sentry.Stacktrace{Frames: goStack(g.Frames)}
		}
		out = append(out, t)
	}
	if n := nativeThread(r); n != nil {
		id := strconv.FormatUint(n.ThreadID, 10)
		t := sentry.Thread{ID: id, Name: "thread " + id + " (not created by Go)", Crashed: true, Current: true}
		t.Stacktrace = exceptionStacktrace(r)
		out = append(out, t)
	}
	return out
}

// goroutineName is the goroutine header as Go prints it, without the colon:
// "goroutine 7 [chan receive, 3 minutes, locked to thread]", and its labels
// after it (labels.go).
func goroutineName(g *report.Goroutine) string {
	var b strings.Builder
	b.WriteString("goroutine ")
	b.WriteString(strconv.FormatInt(g.ID, 10))
	var attrs []string
	if g.State != "" {
		attrs = append(attrs, g.State)
	}
	if g.WaitMinutes > 0 {
		attrs = append(attrs, strconv.Itoa(g.WaitMinutes)+" minutes")
	}
	if g.Locked {
		attrs = append(attrs, "locked to thread")
	}
	if len(attrs) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(attrs, ", "))
		b.WriteString("]")
	}
	b.WriteString(labelsSuffix(g))
	return b.String()
}
