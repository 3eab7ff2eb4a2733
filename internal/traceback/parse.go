// Package traceback parses the crash output of a Go program: the text the
// runtime writes to standard error, and to the file set by
// runtime/debug.SetCrashOutput, when the program dies of an unrecovered
// panic, a runtime fatal error (throw) or a fatal signal.
//
// It is written for the SetCrashOutput copy, which is not quite what
// standard error shows: everything the runtime prints before it starts
// dying is missing from it (golang/go#76859). Observed on linux/amd64 with
// Go 1.23.12, 1.24.13, 1.25.14 and 1.26.8 (testdata/go1.*/ holds both
// copies of every crash), the copy lacks:
//
//   - the "fatal error: ..." line of every throw: concurrent map writes,
//     deadlock, out of memory, stack overflow, sync misuse, "fault", ...;
//   - the "runtime: ..." lines printed just before a throw ("runtime:
//     goroutine stack exceeds 4194304-byte limit", "runtime: sp=...",
//     "runtime: out of memory: cannot allocate ...");
//   - "unexpected fault address 0x...";
//   - for a throw in a deferred call of a panic (runtime.fatal: unlock of
//     an unlocked mutex, ...), the panic chain it interrupted, which it
//     prints together with its own tab-indented "fatal error:" line;
//   - with GOTRACEBACK=crash, the stacks of the other threads that the
//     runtime prints after "-----" while relaying SIGQUIT.
//
// Panics ("panic: ..." and the "[signal ...]" line), fatal signals
// ("SIGSEGV: segmentation violation", "PC=...", "signal arrived during cgo
// execution", the register dump) and all goroutines are in both copies.
// When the message is missing, Parse infers it from the frames the runtime
// did print, says so (Result.MessageInferred) and names the evidence
// (Result.InferredFrom); without evidence it leaves Message empty.
package traceback

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// ErrNotTraceback is wrapped by the error Parse returns for text in which
// it found nothing of a Go crash: no goroutine, no panic, fatal error or
// signal report.
var ErrNotTraceback = errors.New("traceback: not Go crash output")

// Result is what Parse found in one crash output.
type Result struct {
	// Kind is how the process died. A nil dereference is KindPanic: the
	// runtime turned the fault into a panic; a fault it could not turn into
	// a panic, a fatal signal or "unexpected signal" is KindFault.
	Kind report.Kind
	// Message is the panic value or fatal error text as the runtime printed
	// it, e.g. "runtime error: index out of range [5] with length 3", with
	// the tab the runtime puts after each newline of a multi-line value
	// removed. For a chain of panics it is the last one, the one that
	// killed the process; Panics has them all. For a fatal signal it is
	// the signal line, e.g. "SIGSEGV: segmentation violation".
	Message string
	// MessageInferred is true when Message was not in the text but
	// inferred from other evidence, which InferredFrom names. An inferred
	// Message is the runtime's own text when the evidence pins it down;
	// when the evidence only narrows it to a family, it says so
	// ("concurrent map access").
	MessageInferred bool
	InferredFrom    string

	// Panics is the chain of "panic:" lines, oldest first, as
	// runtime.printpanics prints them. A panic raised in a deferred call
	// while an earlier one unwinds does not replace it: both are printed,
	// the later one on a line of its own that starts with a tab, and the
	// earlier one marked " [recovered]" if it had been recovered. When a
	// fatal error ends the chain (a throw in a deferred call, e.g. unlocking
	// an unlocked mutex), Kind is KindFatalError and Message its text; the
	// panics it interrupted stay here.
	Panics []Panic
	// Signal is the "[signal SIGSEGV: ...]" line, or for a fatal signal the
	// "SIGSEGV: segmentation violation" and "PC=..." lines. Its Number is
	// for the GOOS given in Hints (runtime.GOOS by default).
	Signal *report.Signal
	// UnexpectedFault is true for a fault in Go code at an address the
	// runtime would not call nil ("unexpected fault address 0x..."), and
	// FaultAddress is that address. The line itself is missing from the
	// SetCrashOutput copy; then both come from the signal line and the
	// runtime.sigpanic frame, and InferredFrom says so.
	UnexpectedFault bool
	FaultAddress    uint64
	// CgoExecution is true when the signal arrived while the thread was
	// running C code ("signal arrived during cgo execution").
	CgoExecution bool

	// Goroutines are the goroutines in printed order, the crashed one (if
	// any) first and marked Crashed. Goroutine 0 (a thread's system stack)
	// is not among them: see RuntimeStack.
	Goroutines []report.Goroutine
	// CrashedGoroutine is the id of the goroutine that panicked, threw or
	// took the signal; 0 when none did: in a deadlock every goroutine is
	// blocked and the runtime's scheduler found it, and a signal can land
	// on an idle thread.
	CrashedGoroutine int64
	// RuntimeStack is the system stack of the crashing thread: the
	// "runtime stack:" section printed for a throw on the system stack
	// (stack overflow, deadlock with GOTRACEBACK=system), or the frames of
	// "goroutine 0" when a signal arrived on a thread's system stack.
	RuntimeStack []report.Frame
	// Ancestors are the "[originating from goroutine N]:" sections printed
	// with GODEBUG=tracebackancestors=N.
	Ancestors []Ancestor
	// Registers is the register dump that ends a fatal signal report, by
	// name as printed ("rip", "rsp", "r0", "lr", ...).
	Registers map[string]uint64
	// Diagnostics are other lines the runtime printed about the crash,
	// e.g. "runtime: goroutine stack exceeds 1000000000-byte limit" or
	// "panic during panic" (the former only reach standard error).
	Diagnostics []string
}

// Panic is one "panic:" line of a panic chain. It is the report's type, so
// that the chain goes into a report as parsed.
type Panic = report.Panic

// Ancestor is one "[originating from goroutine N]:" section.
type Ancestor struct {
	// Goroutine is the id of the goroutine whose ancestry this is.
	Goroutine int64
	// ID is the ancestor's goroutine id (N).
	ID           int64
	Frames       []report.Frame
	CreatedBy    *report.Frame
	FramesElided bool
}

// Hints is what the crashing process knew about itself, recorded before it
// crashed, that sharpens what Parse can say. The zero value is fine.
type Hints struct {
	// GOOS is the operating system of the crashed process, for signal
	// numbers. Empty means runtime.GOOS.
	GOOS string
	// Strings maps addresses of string constants in the crashed process to
	// their text: FatalStrings, called in that process. A throw's message
	// argument is printed as such an address, so this turns it back into
	// the missing "fatal error:" text.
	Strings map[uint64]string
}

// Parse parses Go crash output. It never panics; on text it cannot make
// sense of it returns an error wrapping ErrNotTraceback and whatever it
// could parse. The strings in the Result share the memory of one copy of b.
func Parse(b []byte) (*Result, error) {
	return ParseWith(b, Hints{})
}

// ParseWith is Parse with hints from the crashed process.
func ParseWith(b []byte, h Hints) (res *Result, err error) {
	p := newParser(h)
	defer func() {
		// The parser runs in the program that collects a crash, at start:
		// a bug here must not become a second crash. The fuzz test calls
		// the parser without this net.
		if e := recover(); e != nil {
			res, err = p.r, fmt.Errorf("%w: parser failure: %v", ErrNotTraceback, e)
		}
	}()
	return p.parse(b)
}

type section int

const (
	secNone      section = iota // between sections: header lines
	secGoroutine                // frames of r.Goroutines[p.g]
	secRuntime                  // frames of r.RuntimeStack
	secAncestor                 // frames of r.Ancestors[p.anc]
	secDiscard                  // frames to skip
)

type parser struct {
	r     *Result
	goos  string
	hints Hints

	sec     section
	g       int           // current goroutine, index into r.Goroutines
	anc     int           // current ancestor, index into r.Ancestors
	loc     *report.Frame // frame whose location line comes next
	first   int           // index of the first goroutine printed, -1 if none
	g0      bool          // a "goroutine 0" block came before it
	relay   bool          // after "-----": other threads' dumps (GOTRACEBACK=crash)
	noStack map[int]bool  // goroutines printed as "stack unavailable"

	prev        string // previous header line, for "SIG...: ..." + "PC=..."
	inPanic     bool   // "\t" lines continue the panic chain
	inFatal     bool   // "\t" lines continue the fatal error
	fatal       string // "fatal error:" text
	hasFatal    bool
	fatalSignal string // "SIGSEGV: segmentation violation" of a fatal signal
	regs        int    // regsNone, regsReading, regsDone: only the first dump counts

	// Frames of goroutines are carved out of shared chunks rather than
	// grown one slice per goroutine: a crash of a server prints tens of
	// thousands of goroutines, and this keeps parsing them to a few
	// allocations per thousand frames.
	frames    []report.Frame // current chunk
	gStart    int            // where the current goroutine's frames start in it
	createdBy []report.Frame // chunk for "created by" frames, never reallocated
}

const (
	regsNone = iota
	regsReading
	regsDone
)

func newParser(h Hints) *parser {
	goos := h.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	return &parser{r: &Result{}, goos: goos, hints: h, g: -1, anc: -1, first: -1}
}

func (p *parser) parse(b []byte) (*Result, error) {
	// One conversion: every string in the Result is a substring of text.
	text := string(b)
	for text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		p.line(strings.TrimSuffix(line, "\r"))
	}
	p.endSection()
	p.finish()
	r := p.r
	if len(r.Goroutines) == 0 && len(r.RuntimeStack) == 0 && len(r.Panics) == 0 &&
		!p.hasFatal && r.Signal == nil {
		return r, fmt.Errorf("%w: no goroutine, panic, fatal error or signal found", ErrNotTraceback)
	}
	return r, nil
}

func (p *parser) line(s string) {
	if p.regs == regsReading {
		if _, _, ok := parseRegister(s); !ok {
			p.regs = regsDone
		}
	}
	if s == "" {
		p.endSection()
		return
	}
	if s[0] == '\t' {
		p.tabLine(s[1:])
		return
	}
	p.inPanic, p.inFatal = false, false
	p.loc = nil
	if strings.HasPrefix(s, "goroutine ") {
		if g, ok := parseGoroutineHeader(s); ok {
			p.startGoroutine(g)
			return
		}
	}
	switch s {
	case "runtime stack:":
		p.endSection()
		p.sec = secRuntime
		if p.relay || len(p.r.RuntimeStack) > 0 {
			p.sec = secDiscard
		}
		return
	case "-----":
		p.endSection()
		p.relay = true
		return
	}
	if p.sec != secNone && p.sectionLine(s) {
		return
	}
	p.headerLine(s)
}

// tabLine handles a line that started with a tab: the location of a frame,
// or the continuation of a multi-line panic value or fatal error.
func (p *parser) tabLine(t string) {
	switch {
	case (p.inPanic || p.sec == secNone && p.first < 0 && !p.inFatal && !p.relay) &&
		strings.HasPrefix(t, "fatal error: "):
		// runtime.fatal (Go's user-caused throws: sync misuse, concurrent
		// map writes, ...) raised while a panic unwinds prints the panic
		// chain first and then the throw on a tab-indented line
		// (printPreFatalDeferPanic in runtime/panic.go, Go 1.26). When the
		// chain holds only a runtime.Goexit, which printpanics does not
		// print, that line comes first. The process died of the throw.
		// A multi-line panic value with a line that reads "fatal error: "
		// prints the same; the runtime's own output cannot tell them apart.
		p.closeChain()
		p.inPanic = false
		if !p.hasFatal {
			p.fatal, p.hasFatal, p.inFatal = t[len("fatal error: "):], true, true
		}
	case p.inPanic:
		if v, ok := strings.CutPrefix(t, "panic: "); ok {
			p.addPanic(v)
			return
		}
		last := &p.r.Panics[len(p.r.Panics)-1]
		last.Value += "\n" + t
	case p.inFatal:
		p.fatal += "\n" + t
	case p.loc != nil:
		parseLocation(t, p.loc)
		p.loc = nil
	case t == "goroutine running on other thread; stack unavailable" && p.sec == secGoroutine:
		if p.noStack == nil {
			p.noStack = map[int]bool{}
		}
		p.noStack[p.g] = true
	}
}

// sectionLine handles a line inside a goroutine, runtime stack or ancestor
// section, and reports whether it was one.
func (p *parser) sectionLine(s string) bool {
	switch {
	case strings.HasPrefix(s, "created by "):
		f, parent := parseCreatedBy(s)
		switch p.sec {
		case secGoroutine:
			if len(p.createdBy) == cap(p.createdBy) {
				p.createdBy = make([]report.Frame, 0, 256)
			}
			p.createdBy = append(p.createdBy, f)
			g := &p.r.Goroutines[p.g]
			g.CreatedBy, g.CreatedByGoroutine = &p.createdBy[len(p.createdBy)-1], parent
			p.loc = g.CreatedBy
		case secAncestor:
			a := &p.r.Ancestors[p.anc]
			a.CreatedBy = &f
			p.loc = a.CreatedBy
		}
		return true
	case strings.HasPrefix(s, "...") && strings.HasSuffix(s, " elided..."):
		// "...additional frames elided..." (before Go 1.21 and ancestors),
		// "...12 frames elided..." (Go 1.21+, in the middle of the stack).
		switch p.sec {
		case secGoroutine:
			p.r.Goroutines[p.g].FramesElided = true
		case secAncestor:
			p.r.Ancestors[p.anc].FramesElided = true
		}
		return true
	case strings.HasPrefix(s, "[originating from goroutine ") && strings.HasSuffix(s, "]:"):
		if p.sec != secGoroutine && p.sec != secAncestor || p.g < 0 {
			p.sec = secDiscard
			return true
		}
		id, _ := parseDecimal(s[len("[originating from goroutine ") : len(s)-2])
		p.r.Ancestors = append(p.r.Ancestors, Ancestor{Goroutine: p.r.Goroutines[p.g].ID, ID: id})
		p.anc = len(p.r.Ancestors) - 1
		p.sec = secAncestor
		return true
	case strings.HasPrefix(s, "non-Go function at pc=0x"):
		// A C frame below a cgo call, printed when no cgo symbolizer is
		// registered.
		pc, _ := parseHex(s[len("non-Go function at pc="):])
		p.addFrame(report.Frame{PC: pc})
		return true
	case strings.HasSuffix(s, ")"):
		p.loc = p.addFrame(parseCall(s))
		return true
	}
	return false
}

// addFrame appends f to the current section and returns where it went, or
// nil when the section is discarded.
func (p *parser) addFrame(f report.Frame) *report.Frame {
	var fs *[]report.Frame
	switch p.sec {
	case secGoroutine:
		if len(p.frames) == cap(p.frames) {
			// Move the current goroutine's frames to a new chunk.
			n := len(p.frames) - p.gStart
			chunk := make([]report.Frame, n, max(1024, 4*n))
			copy(chunk, p.frames[p.gStart:])
			p.frames, p.gStart = chunk, 0
		}
		p.frames = append(p.frames, f)
		end := len(p.frames)
		// Capacity ends with the goroutine: appending to it reallocates
		// instead of overwriting the next goroutine's frames.
		p.r.Goroutines[p.g].Frames = p.frames[p.gStart:end:end]
		return &p.frames[end-1]
	case secRuntime:
		fs = &p.r.RuntimeStack
	case secAncestor:
		fs = &p.r.Ancestors[p.anc].Frames
	default:
		return nil
	}
	*fs = append(*fs, f)
	return &(*fs)[len(*fs)-1]
}

func (p *parser) startGoroutine(g report.Goroutine) {
	p.endSection()
	r := p.r
	switch {
	case p.relay:
		// Another thread's dump: only useful for a goroutine that the
		// crashing thread could not trace ("stack unavailable").
		p.sec = secDiscard
		for i := range r.Goroutines {
			if r.Goroutines[i].ID == g.ID && p.noStack[i] && g.ID != 0 {
				delete(p.noStack, i)
				r.Goroutines[i].Frames = nil
				p.g, p.sec, p.gStart = i, secGoroutine, len(p.frames)
				break
			}
		}
	case g.ID == 0:
		// g0: the system stack of the thread that took a signal.
		p.sec = secDiscard
		if len(r.RuntimeStack) == 0 {
			p.sec = secRuntime
		}
		if p.first < 0 {
			p.g0 = true
		}
	default:
		r.Goroutines = append(r.Goroutines, g)
		p.g = len(r.Goroutines) - 1
		p.sec = secGoroutine
		p.gStart = len(p.frames)
		if p.first < 0 {
			p.first = p.g
		}
	}
}

func (p *parser) endSection() {
	p.sec = secNone
	p.loc = nil
	p.inPanic, p.inFatal = false, false
}

// headerLine handles a line outside the goroutine sections: the lines that
// say what happened.
func (p *parser) headerLine(s string) {
	prev := p.prev
	p.prev = s
	if p.relay {
		return
	}
	r := p.r
	switch {
	case strings.HasPrefix(s, "panic: "):
		p.addPanic(s[len("panic: "):])
	case strings.HasPrefix(s, "fatal error: "):
		if !p.hasFatal {
			p.fatal, p.hasFatal, p.inFatal = s[len("fatal error: "):], true, true
		}
	case strings.HasPrefix(s, "[signal "):
		if sig, ok := parseSignalLine(s, p.goos); ok && r.Signal == nil {
			r.Signal = sig
		}
	case strings.HasPrefix(s, "unexpected fault address "):
		r.UnexpectedFault = true
		r.FaultAddress, _ = parseHex(s[len("unexpected fault address "):])
	case strings.HasPrefix(s, "accessed data from freed user arena "):
		// The arena flavour of "unexpected fault address", then "fault".
		r.UnexpectedFault = true
		r.FaultAddress, _ = parseHex(s[len("accessed data from freed user arena "):])
		r.Diagnostics = append(r.Diagnostics, s)
	case s == "signal arrived during cgo execution":
		r.CgoExecution = true
	case strings.HasPrefix(s, "PC=0x"):
		if sig, ok := parseFatalSignal(prev, s, p.goos); ok && p.fatalSignal == "" {
			r.Signal = sig
			p.fatalSignal = prev
		}
	case strings.HasPrefix(s, "runtime: "), s == "panic during panic", s == "stack trace unavailable":
		r.Diagnostics = append(r.Diagnostics, s)
	default:
		if name, v, ok := parseRegister(s); ok && p.regs != regsDone {
			if r.Registers == nil {
				r.Registers = make(map[string]uint64, 24)
			}
			r.Registers[name] = v
			p.regs = regsReading
		}
	}
}

// addPanic starts the next entry of the panic chain.
func (p *parser) addPanic(v string) {
	p.closeChain()
	p.r.Panics = append(p.r.Panics, Panic{Value: v})
	p.inPanic = true
}

// closeChain closes the last entry of the panic chain, if any.
func (p *parser) closeChain() {
	if n := len(p.r.Panics); n > 0 {
		closePanic(&p.r.Panics[n-1])
	}
}

// closePanic moves the annotation runtime.printpanics appends after a
// value into the flags.
func closePanic(pn *Panic) {
	if v, ok := strings.CutSuffix(pn.Value, " [recovered, repanicked]"); ok {
		pn.Value, pn.Recovered, pn.Repanicked = v, true, true
	} else if v, ok := strings.CutSuffix(pn.Value, " [recovered]"); ok {
		pn.Value, pn.Recovered = v, true
	}
}

// parseRegister parses one line of a register dump, "rax    0x0".
func parseRegister(s string) (string, uint64, bool) {
	name, v, ok := strings.Cut(s, " ")
	if !ok || name == "" || len(name) > 8 {
		return "", 0, false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "", 0, false
		}
	}
	n, ok := parseHex(strings.TrimLeft(v, " "))
	return name, n, ok
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// finish decides kind, message and crashed goroutine once everything is read.
func (p *parser) finish() {
	r := p.r
	p.closeChain()
	// The goroutine printed first is, in every path through
	// runtime.dopanic_m and the signal handler, the one that crashed, when
	// it is running (or in a cgo call, "syscall"); a blocked one means none
	// did (deadlock). After a "goroutine 0" block (a signal on a thread's
	// system stack) it is that thread's goroutine only if running: an idle
	// thread has none, and the runtime goes on with goroutines in any order.
	if f := p.first; f >= 0 && !p.noStack[f] && isCrashState(r.Goroutines[f].State, p.g0) {
		r.Goroutines[p.first].Crashed = true
		r.CrashedGoroutine = r.Goroutines[p.first].ID
	}
	switch {
	case p.fatalSignal != "":
		r.Kind, r.Message = report.KindFault, p.fatalSignal
	case p.hasFatal:
		r.Kind, r.Message = kindOfFatal(p.fatal), p.fatal
	case len(r.Panics) > 0:
		r.Kind, r.Message = report.KindPanic, strings.TrimSpace(r.Panics[len(r.Panics)-1].Value)
	default:
		p.infer()
	}
	if r.Kind == "" {
		r.Kind = report.KindFatalError
		if r.Signal != nil {
			r.Kind = report.KindFault
		}
	}
}

// isCrashState reports whether the first goroutine printed, in this state,
// is the one that crashed.
func isCrashState(state string, afterG0 bool) bool {
	state, _, _ = strings.Cut(state, " (")
	return state == "running" || state == "syscall" && !afterG0
}

// kindOfFatal classifies a "fatal error:" text.
func kindOfFatal(msg string) report.Kind {
	if msg == msgFault || strings.HasPrefix(msg, "unexpected signal") {
		return report.KindFault
	}
	return report.KindFatalError
}
