package sentryevent

import "github.com/crashguard/crashguard-go/internal/report"

// Signal numbers differ between Linux and darwin only for a few of the crash
// signals (SIGBUS, SIGSYS); the rest are the same on both.
var signalNumbers = map[string]map[string]int{
	"linux":  {"SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGSEGV": 11, "SIGSYS": 31},
	"darwin": {"SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGFPE": 8, "SIGBUS": 10, "SIGSEGV": 11, "SIGSYS": 12},
}

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

// signalName returns the name of signal number n on goos, or "".
func signalName(goos string, n int) string {
	for name, num := range signalNumbers[goos] {
		if num == n {
			return name
		}
	}
	return ""
}

// codeName names si_code for the signal line of Go's crash output, which
// prints only the number. Only codes with the same value on Linux and darwin
// are named, plus the Linux generic codes; the native record names its own
// codes (the C side knows the platform's headers).
func codeName(goos, sig string, code int64) string {
	switch {
	case sig == "SIGSEGV" && code == 1:
		return "SEGV_MAPERR"
	case sig == "SIGSEGV" && code == 2:
		return "SEGV_ACCERR"
	case sig == "SIGBUS" && code == 1:
		return "BUS_ADRALN"
	case sig == "SIGBUS" && code == 2:
		return "BUS_ADRERR"
	case sig == "SIGBUS" && code == 3:
		return "BUS_OBJERR"
	}
	if goos == "linux" {
		switch code {
		case 0:
			return "SI_USER"
		case 0x80:
			return "SI_KERNEL"
		case -6:
			return "SI_TKILL"
		}
	}
	return ""
}

// machExceptionNames names darwin exception types (mach/exception_types.h).
var machExceptionNames = map[int]string{
	1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC", 4: "EXC_EMULATION",
	5: "EXC_SOFTWARE", 6: "EXC_BREAKPOINT", 10: "EXC_CRASH", 11: "EXC_RESOURCE", 12: "EXC_GUARD",
}

// machBadAccessCodes names EXC_BAD_ACCESS codes (kern_return_t values).
var machBadAccessCodes = map[int64]string{1: "KERN_INVALID_ADDRESS", 2: "KERN_PROTECTION_FAILURE"}

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
		s.Name = signalName(goos, s.Number)
	}
	if s.Number == 0 {
		s.Number = signalNumbers[goos][s.Name]
	}
	if s.CodeName == "" {
		s.CodeName = codeName(goos, s.Name, s.Code)
	}
	return s, true
}
