// Package signals holds crashguard's one copy of the Unix signal tables:
// signal numbers and names, the names of si_code values, and the texts the Go
// runtime prints for each signal, for Linux and darwin.
//
// Signal numbers are not portable: SIGBUS is 7 on Linux and 10 on darwin,
// and si_code values differ too (FPE_INTDIV is 1 on Linux, 7 on darwin). A
// report says which OS it came from, so every function takes that OS as a
// GOOS value: "linux" and "android" use the Linux tables, "darwin" and "ios"
// the darwin ones. Any other GOOS has no table: numbers are 0 and names "".
//
// Sources:
//   - Linux numbers: include/uapi/asm-generic/signal.h, the numbering of
//     amd64, arm64, 386, arm, riscv64, ppc64 and s390x (mips, sparc and
//     alpha differ; crashguard does not target them).
//   - Linux si_code: include/uapi/asm-generic/siginfo.h.
//   - darwin numbers and si_code: xnu bsd/sys/signal.h.
//   - Signal numbers checked against golang.org/x/sys/unix zerrors_linux*.go
//     and zerrors_darwin_*.go, and by a test against package syscall and
//     x/sys/unix on the machine that runs it; si_code values against the
//     headers.
//   - Runtime texts: Go's runtime/sigtab_linux_generic.go and
//     runtime/signal_darwin.go.
package signals

import "sync"

// signal is one row of a signal table, indexed by number: the name and the
// text the Go runtime prints after it ("SIGSEGV: segmentation violation").
type signal struct {
	name, text string
}

var linuxSignals = [...]signal{
	1:  {"SIGHUP", "terminal line hangup"},
	2:  {"SIGINT", "interrupt"},
	3:  {"SIGQUIT", "quit"},
	4:  {"SIGILL", "illegal instruction"},
	5:  {"SIGTRAP", "trace trap"},
	6:  {"SIGABRT", "abort"},
	7:  {"SIGBUS", "bus error"},
	8:  {"SIGFPE", "floating-point exception"},
	9:  {"SIGKILL", "kill"},
	10: {"SIGUSR1", "user-defined signal 1"},
	11: {"SIGSEGV", "segmentation violation"},
	12: {"SIGUSR2", "user-defined signal 2"},
	13: {"SIGPIPE", "write to broken pipe"},
	14: {"SIGALRM", "alarm clock"},
	15: {"SIGTERM", "termination"},
	16: {"SIGSTKFLT", "stack fault"},
	17: {"SIGCHLD", "child status has changed"},
	18: {"SIGCONT", "continue"},
	19: {"SIGSTOP", "stop, unblockable"},
	20: {"SIGTSTP", "keyboard stop"},
	21: {"SIGTTIN", "background read from tty"},
	22: {"SIGTTOU", "background write to tty"},
	23: {"SIGURG", "urgent condition on socket"},
	24: {"SIGXCPU", "cpu limit exceeded"},
	25: {"SIGXFSZ", "file size limit exceeded"},
	26: {"SIGVTALRM", "virtual alarm clock"},
	27: {"SIGPROF", "profiling alarm clock"},
	28: {"SIGWINCH", "window size change"},
	29: {"SIGIO", "i/o now possible"},
	30: {"SIGPWR", "power failure restart"},
	31: {"SIGSYS", "bad system call"},
}

var darwinSignals = [...]signal{
	1:  {"SIGHUP", "terminal line hangup"},
	2:  {"SIGINT", "interrupt"},
	3:  {"SIGQUIT", "quit"},
	4:  {"SIGILL", "illegal instruction"},
	5:  {"SIGTRAP", "trace trap"},
	6:  {"SIGABRT", "abort"},
	7:  {"SIGEMT", "emulate instruction executed"},
	8:  {"SIGFPE", "floating-point exception"},
	9:  {"SIGKILL", "kill"},
	10: {"SIGBUS", "bus error"},
	11: {"SIGSEGV", "segmentation violation"},
	12: {"SIGSYS", "bad system call"},
	13: {"SIGPIPE", "write to broken pipe"},
	14: {"SIGALRM", "alarm clock"},
	15: {"SIGTERM", "termination"},
	16: {"SIGURG", "urgent condition on socket"},
	17: {"SIGSTOP", "stop"},
	18: {"SIGTSTP", "keyboard stop"},
	19: {"SIGCONT", "continue after stop"},
	20: {"SIGCHLD", "child status has changed"},
	21: {"SIGTTIN", "background read from tty"},
	22: {"SIGTTOU", "background write to tty"},
	23: {"SIGIO", "i/o now possible"},
	24: {"SIGXCPU", "cpu limit exceeded"},
	25: {"SIGXFSZ", "file size limit exceeded"},
	26: {"SIGVTALRM", "virtual alarm clock"},
	27: {"SIGPROF", "profiling alarm clock"},
	28: {"SIGWINCH", "window size change"},
	29: {"SIGINFO", "status request from keyboard"},
	30: {"SIGUSR1", "user-defined signal 1"},
	31: {"SIGUSR2", "user-defined signal 2"},
}

// Generic si_code values, which mean the same for every signal: who sent it.
func linuxGenericCodes() map[int]string {
	return map[int]string{
		0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
		-3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL",
		-7: "SI_DETHREAD", -60: "SI_ASYNCNL",
	}
}

func darwinGenericCodes() map[int]string {
	return map[int]string{
		0x10001: "SI_USER", 0x10002: "SI_QUEUE", 0x10003: "SI_TIMER",
		0x10004: "SI_ASYNCIO", 0x10005: "SI_MESGQ",
	}
}

// Per-signal si_code values of the fault signals, indexed by code. The
// numbering of SIGILL and SIGFPE codes differs between the two.
func linuxCodes() map[string][]string {
	return map[string][]string{
		// SEGV_CPERR (x86 shadow stack) is from Linux 6.6.
		"SIGSEGV": {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR", 5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR", 8: "SEGV_MTEAERR", 9: "SEGV_MTESERR", 10: "SEGV_CPERR"},
		"SIGBUS":  {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"},
		// 9 to 13 are ia64-only (__FPE_DECOVF ...).
		"SIGFPE":  {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB", 14: "FPE_FLTUNK", 15: "FPE_CONDTRAP"},
		"SIGILL":  {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK", 9: "ILL_BADIADDR"},
		"SIGTRAP": {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT", 5: "TRAP_UNK", 6: "TRAP_PERF"},
		"SIGSYS":  {1: "SYS_SECCOMP", 2: "SYS_USER_DISPATCH"},
	}
}

func darwinCodes() map[string][]string {
	return map[string][]string{
		"SIGSEGV": {1: "SEGV_MAPERR", 2: "SEGV_ACCERR"},
		"SIGBUS":  {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"},
		"SIGFPE":  {1: "FPE_FLTDIV", 2: "FPE_FLTOVF", 3: "FPE_FLTUND", 4: "FPE_FLTRES", 5: "FPE_FLTINV", 6: "FPE_FLTSUB", 7: "FPE_INTDIV", 8: "FPE_INTOVF"},
		"SIGILL":  {1: "ILL_ILLOPC", 2: "ILL_ILLTRP", 3: "ILL_PRVOPC", 4: "ILL_ILLOPN", 5: "ILL_ILLADR", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
		"SIGTRAP": {1: "TRAP_BRKPT", 2: "TRAP_TRACE"},
	}
}

// osTables are the tables of one OS.
type osTables struct {
	signals      []signal
	genericCodes map[int]string
	codes        map[string][]string
}

// The tables are built at their first use, not at package init: every
// program importing crashguard would otherwise build these maps before main
// (0.08 ms, TestPackageInitsAreCheap), and most never look a signal up.
var (
	linuxTables = sync.OnceValue(func() *osTables {
		return &osTables{linuxSignals[:], linuxGenericCodes(), linuxCodes()}
	})
	darwinTables = sync.OnceValue(func() *osTables {
		return &osTables{darwinSignals[:], darwinGenericCodes(), darwinCodes()}
	})
	noTables osTables
)

func tables(goos string) *osTables {
	switch goos {
	case "linux", "android":
		return linuxTables()
	case "darwin", "ios":
		return darwinTables()
	}
	return &noTables
}

// Number returns the number of the signal called name ("SIGBUS") on goos,
// or 0 when goos has no such signal.
func Number(goos, name string) int {
	if name == "" {
		return 0
	}
	for n, s := range tables(goos).signals {
		if s.name == name {
			return n
		}
	}
	return 0
}

// Name returns the name of signal n on goos ("SIGBUS" for 7 on Linux, 10 on
// darwin), or "" when goos has no such signal (real-time signals included).
func Name(goos string, n int) string {
	t := tables(goos).signals
	if n > 0 && n < len(t) {
		return t[n].name
	}
	return ""
}

// CodeName returns the name of the si_code value code of signal sig (a
// number, as in siginfo) on goos: a generic code such as "SI_USER" or
// "SI_TKILL" whatever the signal, else a code of the fault signals SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP and (Linux) SIGSYS, such as "SEGV_MAPERR".
// It returns "" for any other code.
func CodeName(goos string, sig, code int) string {
	t := tables(goos)
	if name, ok := t.genericCodes[code]; ok {
		return name
	}
	if sig <= 0 || sig >= len(t.signals) {
		return ""
	}
	codes := t.codes[t.signals[sig].name]
	if code > 0 && code < len(codes) {
		return codes[code]
	}
	return ""
}

// RuntimeDescription returns the text the Go runtime prints after the name
// of signal name on goos ("segmentation violation" for "SIGSEGV", as in
// "SIGSEGV: segmentation violation"), or "" when goos has no such signal.
func RuntimeDescription(goos, name string) string {
	if n := Number(goos, name); n > 0 {
		return tables(goos).signals[n].text
	}
	return ""
}
