package sentryevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Sentry's size limits, and the budgets crashguard keeps to stay under them.
//
// Relay (getsentry/relay, relay-config Limits::default) refuses a whole
// envelope with 413 when its event item is over max_event_size, 1 MiB, and
// the attachment and everything else in it are lost with the event. Sentry's
// documentation (docs.sentry.io/concepts/data-management/size-limits) says
// "Events that exceed 200KB compressed or 1MB decompressed will be rejected",
// and for attachments "at most 20MB for a compressed request, and at most
// 100MB of uncompressed attachments per event" (Relay's max_attachment_size
// and max_attachments_size, 100 MiB).
const (
	// MaxEventSize is Relay's max_event_size: the largest event item, as
	// serialized and before any Content-Encoding, that Sentry accepts.
	MaxEventSize = 1 << 20
	// DefaultEventBudget is the size the event item is fitted into unless
	// Options.MaxEventSize says otherwise: MaxEventSize less an eighth
	// (896 KiB), a margin for a Relay or proxy configured a little tighter.
	// Crash events compress 10–30×, so the compressed event stays far under
	// the documented 200 KB too.
	DefaultEventBudget = MaxEventSize - MaxEventSize/8
	// SmallEventBudget is the harder fit used after Sentry refused an
	// envelope as too large: 200 KB, the documented compressed limit, which
	// an event this size cannot exceed even uncompressed.
	SmallEventBudget = 200_000
	// MinEventBudget is the smallest budget accepted in Options.MaxEventSize.
	MinEventBudget = 64 << 10

	// DefaultMaxAttachmentSize caps the crash output attachment (and any
	// attachment BeforeSend adds): 10 MiB, a tenth of Relay's
	// max_attachment_size. With the event it keeps a request under the
	// documented 20 MB compressed even if nothing compressed at all. The
	// outbox caps reports at 16 MiB, so only an extreme crash output is cut;
	// its head, where Go prints the panic and the crashed goroutine, is kept.
	DefaultMaxAttachmentSize = 10 << 20
	// SmallAttachmentSize caps attachments in the harder fit after a 413.
	SmallAttachmentSize = 1 << 20

	// minAttachmentSize is the smallest attachment cap accepted.
	minAttachmentSize = 4 << 10

	// MaxValueChars is Relay's max_chars "message" (8192 characters): the
	// longest exception value Sentry stores; Relay truncates longer ones.
	// crashguard cuts them itself, with a marker, so that a 10 MB panic
	// message does not fill the event.
	MaxValueChars = 8192
)

// ErrEventTooLarge is returned by Envelope when the event does not fit
// MaxEventSize even with every goroutine but the crashed one left out (what
// is left is large because of BeforeSend or of a huge module list). Sentry
// would refuse it with 413.
var ErrEventTooLarge = errors.New("sentryevent: event too large for Sentry even at its smallest")

// Fit says what was done to make an event fit its budget.
type Fit struct {
	// EventSize is the size of the event item as sent, in bytes.
	EventSize int
	// Budget is the size the event had to fit.
	Budget int
	// Threads is the number of thread entries sent.
	Threads int
	// ThreadsFolded is how many goroutines were folded into the thread of
	// another goroutine with the same state and stack (not sent on their own).
	ThreadsFolded int
	// ThreadsOmitted is how many goroutines were left out entirely.
	ThreadsOmitted int
	// ValuesCut is how many exception values were cut to MaxValueChars.
	ValuesCut int
	// AttachmentsCut is how many attachments were cut to their cap.
	AttachmentsCut int
}

// Trimmed reports whether anything was left out of the event or its
// attachments.
func (f Fit) Trimmed() bool {
	return f.ThreadsFolded+f.ThreadsOmitted+f.ValuesCut+f.AttachmentsCut > 0
}

// eventBudget is the budget for the event item.
func (o Options) eventBudget() int {
	switch {
	case o.MaxEventSize <= 0:
		return DefaultEventBudget
	case o.MaxEventSize > MaxEventSize:
		return MaxEventSize
	case o.MaxEventSize < MinEventBudget:
		return MinEventBudget
	}
	return o.MaxEventSize
}

// attachmentBudget is the cap for each attachment.
func (o Options) attachmentBudget() int {
	switch {
	case o.MaxAttachmentSize <= 0 || o.MaxAttachmentSize > DefaultMaxAttachmentSize:
		return DefaultMaxAttachmentSize
	case o.MaxAttachmentSize < minAttachmentSize:
		return minAttachmentSize
	}
	return o.MaxAttachmentSize
}

// fitEvent serializes ev (after BeforeSend) so that it fits the budget,
// shrinking it by meaning, one step at a time, only as far as needed:
//
//  1. always: exception values longer than MaxValueChars are cut with a
//     marker (Relay would cut them anyway), and each attachment is capped;
//  2. goroutines in the same state with the same stack are folded into the
//     thread of the first of them, whose name says how many it stands for
//     (as panicparse buckets them);
//  3. threads are kept by importance until the budget is used: the crashed
//     thread always and whole, the goroutine that created it, running ones,
//     then the folded threads standing for the most goroutines, then in
//     printed order; the rest are left out;
//
// The "crashguard" context says what was folded and left out (by state).
// The raw crash output, attachment go-crash-output.txt, still has every
// goroutine.
func fitEvent(ev *sentry.Event, x *extras, r *report.Report, opts Options) ([]byte, Fit, error) {
	fit := Fit{Budget: opts.eventBudget()}
	fit.ValuesCut = cutValues(ev)
	fit.AttachmentsCut = capAttachments(ev, opts.attachmentBudget())
	if fit.ValuesCut+fit.AttachmentsCut > 0 {
		noteFit(ev, fit, nil)
	}
	fit.Threads = len(ev.Threads)
	if !clearlyOver(ev, fit.Budget) {
		body, err := canonicalize(ev, x)
		if err != nil {
			return nil, fit, err
		}
		if len(body) <= fit.Budget {
			fit.EventSize = len(body)
			return body, fit, nil
		}
	}

	threads := foldThreads(ev.Threads)
	for _, t := range threads {
		fit.ThreadsFolded += t.count - 1
	}

	// Size of the event without threads, and of each thread on its own;
	// together they bound the size of any selection (a thread's id is
	// written as a string here and as a number in the end, so the estimate
	// is a little high).
	ev.Threads = nil
	noteFit(ev, fit, map[string]int{}) // reserve the summary's keys
	base, err := canonicalize(ev, x)
	if err != nil {
		return nil, fit, err
	}
	sizes := make([]int, len(threads))
	for i := range threads {
		b, err := json.Marshal(threads[i].thread)
		if err != nil {
			return nil, fit, fmt.Errorf("sentryevent: encoding thread: %w", err)
		}
		sizes[i] = len(b) + 1 // the comma
	}
	// A generous allowance for the summary's state counts, then shrink the
	// thread budget by any overrun until the whole fits.
	room := fit.Budget - len(base) - len(`"threads":{"values":[]},`) - 2048
	for attempt := 0; ; attempt++ {
		keep := selectThreads(threads, sizes, room, creatorOf(r))
		ev.Threads = ev.Threads[:0]
		omitted := map[string]int{}
		f := fit
		f.ThreadsFolded, f.ThreadsOmitted = 0, 0
		for i, t := range threads {
			if keep[i] {
				ev.Threads = append(ev.Threads, t.folded())
				f.ThreadsFolded += t.count - 1
				continue
			}
			f.ThreadsOmitted += t.count
			for s, n := range t.states {
				omitted[s] += n
			}
		}
		f.Threads = len(ev.Threads)
		noteFit(ev, f, omitted)
		body, err := canonicalize(ev, x)
		if err != nil {
			return nil, fit, err
		}
		f.EventSize = len(body)
		if len(body) <= f.Budget || room <= 0 || attempt >= 3 {
			if len(body) > MaxEventSize {
				return nil, f, fmt.Errorf("%w: %d bytes with %d threads", ErrEventTooLarge, len(body), f.Threads)
			}
			return body, f, nil
		}
		room -= len(body) - f.Budget + 1024
		if room < 0 {
			room = 0 // the crashed thread alone
		}
	}
}

// clearlyOver reports whether an event with many threads is so far over the
// budget in sentry-go's own JSON (one marshal, a third of canonicalize's
// work) that measuring its canonical form is not worth it.
func clearlyOver(ev *sentry.Event, budget int) bool {
	if len(ev.Threads) < 1000 {
		return false
	}
	raw, err := json.Marshal(ev)
	return err == nil && len(raw) > 2*budget
}

// noteFit records in the "crashguard" context what the fit left out. omitted
// nil means no thread was left out or folded.
func noteFit(ev *sentry.Event, f Fit, omitted map[string]int) {
	if ev.Contexts == nil {
		ev.Contexts = map[string]sentry.Context{}
	}
	c := ev.Contexts["crashguard"]
	if c == nil {
		c = sentry.Context{}
		ev.Contexts["crashguard"] = c
	}
	c["size_budget"] = f.Budget
	if f.ValuesCut > 0 {
		c["values_cut"] = f.ValuesCut
	}
	if f.AttachmentsCut > 0 {
		c["attachments_cut"] = f.AttachmentsCut
	}
	if omitted == nil {
		return
	}
	c["threads_sent"] = f.Threads
	c["threads_folded"] = f.ThreadsFolded
	c["threads_omitted"] = f.ThreadsOmitted
	if len(omitted) > 0 {
		c["threads_omitted_by_state"] = omitted
	} else {
		delete(c, "threads_omitted_by_state")
	}
	c["threads_note"] = "goroutines folded or left out here are all in the attachment " + CrashOutputFilename
}

// cutValues cuts exception values (and the event message) longer than
// MaxValueChars characters, keeping their head and saying how much was cut.
func cutValues(ev *sentry.Event) int {
	n := 0
	for i := range ev.Exception {
		if v, ok := cutText(ev.Exception[i].Value, MaxValueChars); ok {
			ev.Exception[i].Value = v
			n++
		}
	}
	if v, ok := cutText(ev.Message, MaxValueChars); ok {
		ev.Message = v
		n++
	}
	return n
}

// cutText returns s cut to at most max characters, with a marker, and
// whether it was cut.
func cutText(s string, max int) (string, bool) {
	if len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s, false
	}
	marker := fmt.Sprintf(" … [cut by crashguard: %d bytes in all; the full text is in %s]", len(s), CrashOutputFilename)
	keep := max - utf8.RuneCountInString(marker)
	end := 0
	for i := range s {
		if keep == 0 {
			end = i
			break
		}
		keep--
	}
	return strings.ToValidUTF8(s[:end], "") + marker, true
}

// capAttachments cuts every attachment larger than limit at a line break,
// with a last line that says so. It copies the payload: BeforeSend may have
// shared it.
func capAttachments(ev *sentry.Event, limit int) int {
	n := 0
	for _, a := range ev.Attachments {
		if a == nil || len(a.Payload) <= limit {
			continue
		}
		marker := fmt.Sprintf("\n[cut by crashguard: %d of %d bytes kept, the limit for one attachment]\n", limit, len(a.Payload))
		end := limit - len(marker)
		if i := bytes.LastIndexByte(a.Payload[:end], '\n'); i > end/2 {
			end = i
		}
		p := make([]byte, 0, end+len(marker))
		p = append(p, a.Payload[:end]...)
		a.Payload = append(p, marker...)
		n++
	}
	return n
}

// threadGroup is one thread to send, standing for count goroutines with the
// same state and stack.
type threadGroup struct {
	thread sentry.Thread
	count  int
	ids    []string       // of the other goroutines, for the name
	states map[string]int // state → goroutines
	order  int            // printed position of the first
}

// maxFoldedIDs is how many ids of folded goroutines a thread name lists.
const maxFoldedIDs = 8

// folded returns the thread, named for the goroutines it stands for.
func (g *threadGroup) folded() sentry.Thread {
	t := g.thread
	if g.count > 1 {
		ids := strings.Join(g.ids, ", ")
		if g.count-1 > len(g.ids) {
			ids += ", …"
		}
		t.Name = fmt.Sprintf("%s + %d more with this stack (%s)", t.Name, g.count-1, ids)
	}
	return t
}

// goroutineNameRE matches the names threads() gives goroutines:
// "goroutine 7 [chan receive, 3 minutes, locked to thread]", with labels
// after it (labels.go).
// Compiled at first use, not at package init: every program importing
// crashguard would pay for it at start.
var goroutineNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^goroutine [0-9]+(?: \[([^],]*)[^]]*\])?(?: labels:\{.*)?$`)
})

// stateOf is the wait state of a thread named by threads(), "" for others.
func stateOf(name string) string {
	m := goroutineNameRE().FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	if m[1] == "" {
		return "unknown"
	}
	return m[1]
}

// foldThreads groups goroutines that are in the same state with the same
// stack (wait minutes and arguments do not count), keeping the first of each
// group in printed order. Crashed and current threads, and threads that are
// not goroutines, are never folded.
func foldThreads(ts []sentry.Thread) []*threadGroup {
	out := make([]*threadGroup, 0, len(ts))
	byKey := map[string]*threadGroup{}
	for i, t := range ts {
		state := stateOf(t.Name)
		g := &threadGroup{thread: t, count: 1, states: map[string]int{}, order: i}
		g.states[stateLabel(state)] = 1
		if t.Crashed || t.Current || state == "" {
			out = append(out, g)
			continue
		}
		key := state + "\x00" + stackKey(t.Stacktrace)
		if first, ok := byKey[key]; ok {
			first.count++
			first.states[stateLabel(state)]++
			if len(first.ids) < maxFoldedIDs {
				first.ids = append(first.ids, t.ID)
			}
			continue
		}
		byKey[key] = g
		out = append(out, g)
	}
	return out
}

func stateLabel(s string) string {
	if s == "" {
		return "not a goroutine"
	}
	return s
}

// stackKey identifies a stack by its frames' functions and places.
func stackKey(st *sentry.Stacktrace) string {
	if st == nil {
		return ""
	}
	var b strings.Builder
	for _, f := range st.Frames {
		b.WriteString(f.Module)
		b.WriteByte('.')
		b.WriteString(f.Function)
		b.WriteByte(' ')
		b.WriteString(f.AbsPath)
		b.WriteString(f.Filename)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Lineno))
		b.WriteString(f.InstructionAddr)
		b.WriteByte('\n')
	}
	return b.String()
}

// creatorOf is the id of the goroutine that created the crashed one, "" when
// unknown.
func creatorOf(r *report.Report) string {
	if g := crashedGoroutine(r); g != nil && g.CreatedByGoroutine > 0 {
		return strconv.FormatInt(g.CreatedByGoroutine, 10)
	}
	return ""
}

// running states: goroutines that were doing something, not parked.
func isRunning(state string) bool {
	return strings.HasPrefix(state, "running") || state == "runnable" || strings.HasPrefix(state, "syscall")
}

// selectThreads decides which threads to keep within room bytes, by
// importance (see fitEvent). Crashed and current threads are always kept.
func selectThreads(ts []*threadGroup, sizes []int, room int, creator string) []bool {
	rank := func(g *threadGroup) int {
		t := &g.thread
		switch {
		case t.Crashed || t.Current:
			return 0
		case creator != "" && t.ID == creator:
			return 1
		case isRunning(stateOf(t.Name)):
			return 2
		case g.count > 1:
			return 3
		}
		return 4
	}
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := rank(ts[a]), rank(ts[b])
		if ra != rb {
			return ra - rb
		}
		if ra == 3 && ts[a].count != ts[b].count {
			return ts[b].count - ts[a].count
		}
		return ts[a].order - ts[b].order
	})
	keep := make([]bool, len(ts))
	used := 0
	for _, i := range idx {
		if rank(ts[i]) == 0 {
			keep[i] = true
			used += sizes[i]
			continue
		}
		if used+sizes[i] <= room {
			keep[i] = true
			used += sizes[i]
		}
	}
	return keep
}
