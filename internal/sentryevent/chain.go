package sentryevent

import (
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// MechanismChain is the mechanism type of the exception that holds a chain
// of panics together; see chainExceptions.
const MechanismChain = "go.panic_chain"

// sourceDefer is the mechanism source of an exception raised by a deferred
// call that an earlier panic in the chain was running.
const sourceDefer = "defer"

// chainExceptions returns the exception list of the event: final (what
// killed the process, from newException) alone, or, when the runtime
// printed a chain (a panic raised in a deferred call while an earlier one
// unwound, or a fatal error raised there), one exception per panic, the
// first panic first, then final, then a root that holds them together.
//
// Why this shape. A Go crash is titled and grouped by the panic that
// started it: the later panics come from deferred calls that ran because
// of it (unlocking, closing, recovering and panicking again). Sentry takes
// the title from the last value of exception.values unless grouping set the
// event's main_exception_id (getsentry/sentry src/sentry/eventtypes/error.py,
// get_exception: "the default behavior is to use the last one in the
// list"), and its protocol wants chained values oldest first, the last one
// being the root with mechanism.exception_id 0 (Relay's event schema,
// Mechanism.exception_id). An SDK cannot set main_exception_id itself (the
// schema has no such event field). Grouping sets it when the root is an
// exception group with one distinct top-level exception: it then titles the
// event by that exception and hashes only the "first path" from it, each
// exception followed by its first child (getsentry/sentry
// src/sentry/grouping/strategies/newstyle.py,
// filter_exceptions_for_exception_groups). So:
//
//	values: [panic 1, panic 2, ..., final, root]
//	root    exception_id 0, is_exception_group, type and value of panic 1
//	panic 1 exception_id n, parent_id 0
//	panic k exception_id n-k+1, parent_id that of panic k-1, source "defer"
//
// gives the title of panic 1 and a hash over panic 1, panic 2, ..., final in
// that order, and keeps the first panic first. The root copies panic 1's
// type and value so that a server that does not filter exception groups
// (older self-hosted Sentry) still titles the issue by panic 1 (the last
// value's type and value); it has no stack, so grouping by frames is
// unchanged there too.
//
// Each panic gets the frames below its own runtime "panic" frame in the
// crashed goroutine: where it was raised (see panicStacks). A recovered
// panic is marked handled (its deferred call recovered it before panicking
// anew) and every panic says in mechanism.data what Go printed after it.
func chainExceptions(r *report.Report, final sentry.Exception) []sentry.Exception {
	earlier := r.Panics
	var last *report.Panic
	if r.Kind == report.KindPanic && len(earlier) > 0 {
		last = &earlier[len(earlier)-1]
		earlier = earlier[:len(earlier)-1]
		if d := panicData(*last); d != nil {
			if final.Mechanism.Data == nil {
				final.Mechanism.Data = map[string]any{}
			}
			for k, v := range d {
				final.Mechanism.Data[k] = v
			}
		}
	}
	if len(earlier) == 0 {
		return []sentry.Exception{final}
	}

	stacks := panicStacks(r, earlier, last)
	n := len(earlier) + 1 // the chain without the root
	out := make([]sentry.Exception, 0, n+1)
	tid := uint64(max(crashedThreadID(r), 0))
	for k, p := range earlier {
		var sig *report.Signal
		if k == 0 {
			sig = r.Signal
		}
		typ, value := panicTypeValue(p.Value, sig)
		exc := sentry.Exception{
			Type:  typ,
			Value: value,
			Mechanism: &sentry.Mechanism{
				Type:    MechanismPanic,
				Handled: sentry.Pointer(p.Recovered),
				Data:    panicData(p),
			},
			Stacktrace: stacks[k],
			ThreadID:   tid,
		}
		out = append(out, exc)
	}
	out = append(out, final)
	for k := range out {
		m := out[k].Mechanism
		m.ExceptionID = n - k
		parent := 0
		if k > 0 {
			parent = n - k + 1
			m.Source = sourceDefer
		}
		m.ParentID = sentry.Pointer(parent)
	}
	first := out[0]
	out = append(out, sentry.Exception{
		Type:  first.Type,
		Value: first.Value,
		Mechanism: &sentry.Mechanism{
			Type:             MechanismChain,
			Handled:          sentry.Pointer(false),
			ExceptionID:      0,
			IsExceptionGroup: true,
		},
	})
	return out
}

// panicTypeValue is the exception type and value of an earlier panic of a
// chain, from its value as printed (see panicType). A signal line belongs
// to the panic that started the chain, the first one.
func panicTypeValue(v string, sig *report.Signal) (typ, value string) {
	value = strings.TrimSpace(v)
	return panicType(value, sig), value
}

// panicData is the mechanism data that says what the runtime printed after
// a panic value, nil when it printed nothing.
func panicData(p report.Panic) map[string]any {
	if !p.Recovered {
		return nil
	}
	d := map[string]any{"recovered": true}
	if p.Repanicked {
		d["repanicked"] = true
	}
	return d
}

// panicStacks returns, for each of the earlier panics of a chain (oldest
// first), the frames of the crashed goroutine below that panic's own
// runtime "panic" frame: the stack it was raised on. The crashed goroutine's
// frames, innermost first, hold one "panic" frame for each panic whose
// deferred calls were still running when the next one came:
//
//	main.f.func1            <- raised the last panic
//	panic({...})            <- the previous panic, running func1
//	main.f                  <- raised the previous panic
//
// Walking the chain from the newest down: the last panic of a panic crash
// owns no frame of its own (the runtime does not print the frame of the
// panic that is crashing, except at GOTRACEBACK=system as the top frame,
// which is skipped) unless it is " [recovered, repanicked]": then its first
// panic's frame is there. An earlier panic owns one frame, two when it was
// repanicked (the same value panicked again from a deferred call). A fatal
// error interrupts the newest panic's deferred call and owns none. When the
// frames run out (elided frames), the older panics get no stack rather
// than a wrong one.
func panicStacks(r *report.Report, earlier []report.Panic, last *report.Panic) []*sentry.Stacktrace {
	out := make([]*sentry.Stacktrace, len(earlier))
	g := crashedGoroutine(r)
	if g == nil {
		return out
	}
	frames := g.Frames
	var at []int // indices of "panic" frames, innermost first
	for i, f := range frames {
		if f.Function == "panic" || f.Function == "runtime.gopanic" {
			at = append(at, i)
		}
	}
	if last != nil && len(at) > 0 && at[0] == 0 {
		at = at[1:]
	}
	if last != nil && last.Repanicked && len(at) > 0 {
		at = at[1:]
	}
	for k := len(earlier) - 1; k >= 0; k-- {
		own := 1
		if earlier[k].Repanicked {
			own = 2
		}
		if len(at) < own {
			break
		}
		below := frames[at[own-1]+1:]
		at = at[own:]
		if len(below) > 0 {
			out[k] = &sentry.Stacktrace{Frames: goStack(below)}
		}
	}
	return out
}
