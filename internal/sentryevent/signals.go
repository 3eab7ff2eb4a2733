package sentryevent

import (
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/signals"
)

// signalDescriptions are the exception values for signal faults, in the style
// of sentry-native's signal backend ("SIGSEGV" / "Segfault").
var signalDescriptions = map[string]string{
	"SIGSEGV": "Segfault",
	"SIGBUS":  "Bus error",
	"SIGABRT": "Abort",
	"SIGILL":  "Illegal instruction",
	"SIGFPE":  "Floating point exception",
	"SIGTRAP": "Trace/breakpoint trap",
	"SIGSYS":  "Bad system call",
	"SIGQUIT": "Quit",
}

// addressSignals are the signals whose si_addr is a data address worth
// putting into the exception value ("Segfault at 0x10"). For SIGILL/SIGFPE it
// is the instruction address, which the stack trace already shows.
var addressSignals = map[string]bool{"SIGSEGV": true, "SIGBUS": true}

// signalInfo is what is known about the signal that ended the process.
type signalInfo struct {
	Number   int
	Code     int64
	Name     string
	CodeName string
	// Addr is the fault address (si_addr).
	Addr uint64
}

// signalOf returns the signal of r, preferring the native record (it saw
// siginfo itself) over the signal line of Go's crash output. ok is false when
// neither names a signal (e.g. a Mach exception that was never turned into a
// signal, or a plain panic).
func signalOf(r *report.Report) (s signalInfo, ok bool) {
	goos := r.Process.GOOS
	if n := r.Native; n != nil && (n.Signal != 0 || n.SignalName != "") {
		s = signalInfo{Number: n.Signal, Code: int64(n.SignalCode), Name: n.SignalName, CodeName: n.CodeName, Addr: n.Address}
	} else if g := r.Signal; g != nil && g.Name != "" {
		// Go prints si_code as an unsigned hex of the sign-extended int32,
		// so int64 gives back the signed value (SI_TKILL = -6).
		s = signalInfo{Number: g.Number, Code: int64(g.Code), Name: g.Name, Addr: g.Addr}
	} else {
		return signalInfo{}, false
	}
	if s.Name == "" {
		s.Name = signals.Name(goos, s.Number)
	}
	if s.Number == 0 {
		s.Number = signals.Number(goos, s.Name)
	}
	if s.CodeName == "" && s.Code == int64(int32(s.Code)) { // si_code is a C int
		s.CodeName = signals.CodeName(goos, s.Number, int(s.Code))
	}
	return s, true
}
