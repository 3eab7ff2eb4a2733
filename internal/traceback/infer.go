package traceback

import (
	"fmt"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// The runtime's texts for the fatal errors Parse can recognise without the
// "fatal error:" line. They are also the strings FatalStrings locates.
const (
	msgMapWrites     = "concurrent map writes"
	msgMapRead       = "concurrent map read and map write"
	msgMapIter       = "concurrent map iteration and map write"
	msgMapClone      = "concurrent map clone and map write"
	msgMapSmall      = "small map with no empty slot (concurrent map writes?)"
	msgDeadlock      = "all goroutines are asleep - deadlock!"
	msgNoGoroutines  = "no goroutines (main called runtime.Goexit) - deadlock!"
	msgStackOverflow = "stack overflow"
	msgOOM           = "out of memory"
	msgOOMRuntime    = "runtime: out of memory"
	msgFault         = "fault"
	msgUnexpectedSig = "unexpected signal during runtime execution"
	msgPrintPanic    = "panic while printing panic value"
	msgMutexUnlock   = "sync: unlock of unlocked mutex"
	msgRWUnlock      = "sync: Unlock of unlocked RWMutex"
	msgRWRUnlock     = "sync: RUnlock of unlocked RWMutex"
	msgMutexState    = "sync: inconsistent mutex state"
	msgNilFunc       = "go of nil func value"

	// msgMapFamily is what can honestly be said when a map fatal error is
	// certain but the frame that would tell which one is hidden (runtime
	// frames are not printed at GOTRACEBACK=single).
	msgMapFamily = "concurrent map access"
)

// throwFuncs are the functions through which the runtime and the standard
// library throw: the frame below them tells who threw.
var throwFuncs = map[string]bool{
	"runtime.throw":               true,
	"runtime.fatal":               true,
	"runtime.fatalthrow":          true,
	"internal/runtime/maps.fatal": true, // Go 1.24+ (swiss maps)
	"sync.fatal":                  true, // Go 1.23
	"sync.throw":                  true,
	"internal/sync.fatal":         true, // Go 1.24+
	"internal/sync.throw":         true,
}

// throwerMessages maps a runtime function that called runtime.throw to the
// message it throws where the function throws several: the one a program
// can reach (the others are the runtime checking its own invariants, e.g.
// "refill of span with free space remaining"). It is consulted after the
// call site (throwAt: the caller's file and line pin the call in
// throws_gen.go) and before the function's only message (onlyThrow);
// TestThrowTableMatchesGOROOT checks each entry is one of the function's
// throws in the Go in use.
var throwerMessages = map[string]string{
	"runtime.newstack":                  msgStackOverflow, // after "runtime: goroutine stack exceeds N-byte limit"
	"runtime.(*mcache).allocLarge":      msgOOM,           // the only throw there
	"runtime.getempty":                  msgOOM,           // the only throw there
	"runtime.(*mcache).refill":          msgOOM,
	"runtime.stackpoolalloc":            msgOOM,
	"runtime.sysMapOS":                  msgOOMRuntime, // mmap ENOMEM, after "runtime: out of memory: cannot allocate ..."
	"runtime.preprintpanics.func1":      msgPrintPanic, // the runtime appends ": " + what the String/Error method panicked with
	"runtime.newproc1":                  msgNilFunc,
	"internal/sync.(*Mutex).unlockSlow": msgMutexUnlock,
	"sync.(*Mutex).unlockSlow":          msgMutexUnlock, // Go 1.23
	"internal/sync.(*Mutex).lockSlow":   msgMutexState,
	"sync.(*Mutex).lockSlow":            msgMutexState,
	"sync.(*RWMutex).rUnlockSlow":       msgRWRUnlock,
	"sync.(*RWMutex).Unlock":            msgRWUnlock,
}

// throwSite is where a throw happened, as far as the traceback shows it.
type throwSite struct {
	where   string        // "crashed goroutine" or "runtime stack"
	thrower string        // the outermost throw function, e.g. internal/runtime/maps.fatal
	caller  *report.Frame // the frame that called it, nil when not printed
	next    *report.Frame // the frame below caller, nil when not printed
	// ptrs are the string data pointers passed to the throw functions;
	// length is the string length when the runtime vouched for it (a
	// runtime.fatal frame at GOTRACEBACK=system prints "{0x53fb88, 0x15}").
	ptrs   []uint64
	length int
}

// findThrow looks for the throw at the top of the crashed goroutine, then of
// the runtime stack.
//
// The crashed goroutine comes first: a throw on the system stack (stack
// overflow) never shows in the goroutine's own frames, so a throw there is
// unambiguous, while a "runtime stack:" section may belong to another
// thread that threw while the process was already dying (seen: an
// allocation on another goroutine failing under the same RLIMIT_AS right
// after "out of memory", printing "runtime: cannot allocate memory").
func findThrow(r *Result, crashed *report.Goroutine) *throwSite {
	if crashed != nil {
		if s := throwIn(crashed.Frames, "crashed goroutine"); s != nil {
			return s
		}
	}
	return throwIn(r.RuntimeStack, "runtime stack")
}

func throwIn(frames []report.Frame, where string) *throwSite {
	// A throw is at the top of the stack, under at most the closures that
	// runtime.throw runs on the system stack.
	for i := 0; i < len(frames) && i < 3; i++ {
		if !throwFuncs[frames[i].Function] {
			continue
		}
		s := &throwSite{where: where, length: -1}
		j := i
		for ; j < len(frames) && throwFuncs[frames[j].Function]; j++ {
			s.thrower = frames[j].Function
			ptr, ok, ptrExact := argWord(frames[j].Args, 0)
			if ok {
				s.ptrs = append(s.ptrs, ptr)
			}
			if n, _, exact := argWord(frames[j].Args, 1); exact && ptrExact && s.length < 0 {
				s.length = int(n)
			}
		}
		if j < len(frames) {
			s.caller = &frames[j]
		}
		if j+1 < len(frames) {
			s.next = &frames[j+1]
		}
		return s
	}
	return nil
}

// infer fills Kind and Message when the text had no panic, fatal error or
// fatal signal line: the SetCrashOutput copy of a throw.
func (p *parser) infer() {
	r := p.r
	var crashed *report.Goroutine
	if p.first >= 0 && r.Goroutines[p.first].Crashed {
		crashed = &r.Goroutines[p.first]
	}
	site := findThrow(r, crashed)
	msg, from := p.inferMessage(site)
	if msg == "" {
		return
	}
	r.Message, r.MessageInferred, r.InferredFrom = msg, true, from
	if msg == msgPrintPanic && !r.MessagePrefix {
		// throw(text + ": " + r) in preprintpanics, at a line the table
		// does not know: the rest was built at run time and is nowhere
		// in the output but the "fatal error:" line, which the
		// SetCrashOutput copy lacks.
		r.MessagePrefix = true
		r.InferredFrom += "; the runtime's text goes on with \": \" and what the String or Error method panicked with, " +
			"which the output does not hold: the message is its prefix"
	}
	r.Kind = kindOfFatal(msg)
	if msg == msgFault && r.Signal != nil {
		r.UnexpectedFault, r.FaultAddress = true, r.Signal.Addr
	}
}

// crashedOf returns the goroutine marked crashed, or nil.
func crashedOf(r *Result) *report.Goroutine {
	for i := range r.Goroutines {
		if r.Goroutines[i].Crashed {
			return &r.Goroutines[i]
		}
	}
	return nil
}

func (p *parser) inferMessage(site *throwSite) (msg, from string) {
	r := p.r
	// 1. The crashed process told us where its strings live.
	if site != nil {
		for _, ptr := range site.ptrs {
			if m, ok := p.hints.Strings[ptr]; ok {
				return m, fmt.Sprintf("message argument %#x of %s in %s is the address of %q in the crashed process",
					ptr, site.thrower, site.where, m)
			}
		}
	}
	// 2. The lines the runtime prints just before the throw, when they
	// made it (they are on stderr, not in the SetCrashOutput copy).
	for _, d := range r.Diagnostics {
		switch {
		case strings.HasPrefix(d, "runtime: goroutine stack exceeds "):
			return msgStackOverflow, fmt.Sprintf("%q line", d)
		case strings.HasPrefix(d, "runtime: out of memory"):
			return msgOOM, fmt.Sprintf("%q line", d)
		}
	}
	// 3. Who threw.
	if site != nil {
		if m, f := p.inferFromThrow(site); m != "" {
			return m, f
		}
	}
	// 4. A fatal with the runtime's frames hidden.
	if site == nil {
		if m, f := p.inferFromHiddenFatal(crashedOf(r)); m != "" {
			return m, f
		}
	}
	// 5. Nobody threw on a goroutine, nobody is running: the scheduler
	// found a deadlock.
	if site == nil && r.Signal == nil && len(r.RuntimeStack) == 0 && r.CrashedGoroutine == 0 && len(r.Goroutines) > 0 {
		for _, g := range r.Goroutines {
			if isActiveState(g.State) {
				return "", ""
			}
		}
		return msgDeadlock, "every goroutine is blocked and none is running, with no panic, signal or runtime stack: " +
			"only the scheduler's deadlock check (runtime.checkdead) dies like that"
	}
	return "", ""
}

func (p *parser) inferFromThrow(site *throwSite) (msg, from string) {
	r := p.r
	callerName, calledBy := "", fmt.Sprintf("%s with no caller printed in %s", site.thrower, site.where)
	if site.caller != nil {
		callerName = site.caller.Function
		calledBy = fmt.Sprintf("%s called from %s in %s", site.thrower, callerName, site.where)
	}
	switch {
	case site.thrower == "internal/runtime/maps.fatal" || site.thrower == "runtime.fatal" && isMapFunc(callerName):
		if m := mapMessage(callerName); m != "" {
			return m, calledBy
		}
		if m := byLength(site.length, msgMapWrites, msgMapRead, msgMapIter, msgMapClone, msgMapSmall); m != "" {
			return m, fmt.Sprintf("%s, message length %d", calledBy, site.length)
		}
		if site.thrower == "internal/runtime/maps.fatal" {
			return msgMapFamily, calledBy + "; the map operation between them is hidden at this GOTRACEBACK level, " +
				"so which concurrent map fatal error it was is not known"
		}
	case callerName == "runtime.checkdead" && site.thrower == "runtime.fatal":
		if m := byLength(site.length, msgDeadlock, msgNoGoroutines); m != "" {
			return m, fmt.Sprintf("%s, message length %d", calledBy, site.length)
		}
		// checkdead says "no goroutines" when no user goroutine is left
		// waiting; the ones it counts are those not created by the runtime.
		for _, g := range r.Goroutines {
			if g.CreatedBy == nil || !isRuntimeFunc(g.CreatedBy.Function) {
				return msgDeadlock, calledBy + ", with user goroutines blocked"
			}
		}
		return msgNoGoroutines, calledBy + ", with no user goroutine left"
	case callerName == "runtime.sigpanic" && site.thrower == "runtime.throw":
		return p.inferFault(site, calledBy)
	}
	if t, ok := throwAt(site.caller); ok {
		if t.prefix {
			p.r.MessagePrefix = true
			return t.msg, fmt.Sprintf("%s at %s:%d, where the Go runtime sources (%s) throw a message that starts so "+
				"and goes on with text made at run time, which the output does not hold: the message is its prefix",
				calledBy, baseName(site.caller.File), site.caller.Line, releaseRange())
		}
		return t.msg, fmt.Sprintf("%s at %s:%d, where the Go runtime sources (%s) throw only that",
			calledBy, baseName(site.caller.File), site.caller.Line, releaseRange())
	}
	if m, ok := throwerMessages[callerName]; ok {
		return m, calledBy
	}
	if m, ok := onlyThrow(callerName, false); ok {
		return m, fmt.Sprintf("%s, which throws nothing else in the Go runtime sources (%s)", calledBy, releaseRange())
	}
	if msgs, _ := throwMessages(callerName); len(msgs) > 1 {
		if m := byLength(site.length, msgs...); m != "" {
			return m, fmt.Sprintf("%s, message length %d: the only one of its messages in the Go runtime sources (%s) that long",
				calledBy, site.length, releaseRange())
		}
	}
	return "", ""
}

// inferFromHiddenFatal infers the message of a fatal error whose frames the
// runtime did not print: at GOTRACEBACK=single a fatal (an error of the
// program, not of the runtime) hides the runtime's frames, so the crashed
// goroutine's top frame is the function that called fatal when that
// function is not the runtime's by name (a //go:linkname such as
// sync.runtime_notifyListNotifyAll).
func (p *parser) inferFromHiddenFatal(g *report.Goroutine) (msg, from string) {
	r := p.r
	if g == nil || len(g.Frames) == 0 || r.Signal != nil || len(r.Panics) > 0 {
		return "", ""
	}
	top := &g.Frames[0]
	if t, ok := throwAt(top); ok && t.fatal && !t.prefix {
		return t.msg, fmt.Sprintf("top frame %s at %s:%d of the crashed goroutine, where the Go runtime sources (%s) call fatal with only that "+
			"(the runtime's own frames are hidden at this GOTRACEBACK level)", top.Function, baseName(top.File), top.Line, releaseRange())
	}
	return "", ""
}

func baseName(path string) string {
	return path[strings.LastIndexAny(path, `/\`)+1:]
}

// inferFault decides between the two throws of runtime.sigpanic that end a
// program: "fault" (after "unexpected fault address 0x...") and
// "unexpected signal during runtime execution".
func (p *parser) inferFault(site *throwSite, calledBy string) (msg, from string) {
	sig := p.r.Signal
	if sig == nil {
		return "", ""
	}
	// sigpanic panics (recoverably) for an access below 0x1000 with these
	// codes; if it threw instead, the runtime could not panic there.
	const segvMapErr, segvAccErr, busAdrErr = 1, 2, 2 // linux and darwin agree
	nilish := sig.Addr < 0x1000 && (sig.Name == "SIGSEGV" && sig.Code <= segvAccErr || sig.Name == "SIGBUS" && sig.Code == busAdrErr)
	if (sig.Name != "SIGSEGV" && sig.Name != "SIGBUS") || nilish {
		return msgUnexpectedSig, fmt.Sprintf("%s; %s at %#x could only throw because the runtime could not panic there",
			calledBy, sig.Name, sig.Addr)
	}
	// Otherwise sigpanic throws "fault", unless the runtime could not panic
	// at all (it held locks, was allocating, ...). That cannot be so while
	// user code runs, so trust it only when the faulting frame is not the
	// runtime's.
	if site.next != nil && !isRuntimeFunc(site.next.Function) {
		return msgFault, fmt.Sprintf("%s; %s at non-nil address %#x in %s: \"unexpected fault address\"",
			calledBy, sig.Name, sig.Addr, site.next.Function)
	}
	return "", ""
}

// isMapFunc reports whether fn is part of the map implementation.
func isMapFunc(fn string) bool {
	return strings.HasPrefix(fn, "runtime.map") || strings.HasPrefix(fn, "internal/runtime/maps.")
}

// mapMessage names the map fatal error from the function that detected it.
func mapMessage(fn string) string {
	name := fn[strings.LastIndexByte(fn, '.')+1:]
	switch {
	case strings.Contains(fn, "(*Iter).Next"), strings.HasPrefix(name, "mapiter"), strings.HasPrefix(name, "mapIter"):
		return msgMapIter
	case strings.HasPrefix(name, "mapaccess"), strings.HasPrefix(name, "getWith"),
		strings.Contains(fn, "(*Map).Get"), strings.Contains(fn, "(*table).get"):
		return msgMapRead
	case strings.HasPrefix(name, "mapclone"), strings.Contains(fn, "(*Map).Clone"):
		return msgMapClone
	case strings.Contains(name, "putSlotSmall"):
		return "" // also throws msgMapSmall
	case strings.HasPrefix(name, "mapassign"), strings.HasPrefix(name, "mapdelete"), strings.HasPrefix(name, "mapclear"),
		strings.Contains(fn, "(*Map).PutSlot"), strings.Contains(fn, "(*Map).Delete"), strings.Contains(fn, "(*Map).Clear"),
		strings.Contains(fn, "(*table).PutSlot"), strings.Contains(fn, "(*table).Delete"):
		return msgMapWrites
	}
	return ""
}

// byLength returns the one candidate of length n, if n is known.
func byLength(n int, candidates ...string) string {
	if n < 0 {
		return ""
	}
	found := ""
	for _, c := range candidates {
		if len(c) == n {
			if found != "" {
				return ""
			}
			found = c
		}
	}
	return found
}
