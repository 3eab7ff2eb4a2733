package flightrec

import "strconv"

// Register orders. The same order is used on every OS for an arch: it is the
// order of the darwin thread state structs (x86_thread_state64_t,
// arm_thread_state64_t in <mach/{i386,arm}/_structs.h>), so the Mach
// exception thread can copy a thread state word by word, and the Linux
// ucontext is mapped to it (cg_regs_linux_*.c).
var (
	amd64Registers = []string{
		"rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "rsp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"rip", "rflags", "cs", "fs", "gs",
	}
	arm64Registers = []string{
		"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9",
		"x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19",
		"x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
		"fp", "lr", "sp", "pc", "cpsr",
	}
)

// RegisterNames returns the register names in record order for arch
// (21 for amd64, 34 for arm64), nil for an unknown arch. The caller must not
// modify the slice.
func RegisterNames(arch Arch) []string {
	switch arch {
	case ArchAMD64:
		return amd64Registers
	case ArchARM64:
		return arm64Registers
	}
	return nil
}

// PCRegister names the program counter register of arch.
func PCRegister(arch Arch) string {
	if arch == ArchARM64 {
		return "pc"
	}
	return "rip"
}

// SPRegister names the stack pointer register of arch.
func SPRegister(arch Arch) string {
	if arch == ArchARM64 {
		return "sp"
	}
	return "rsp"
}

type sigNames struct {
	abrt, bus, fpe, ill, segv, sys, trap int
}

var (
	linuxSigs  = sigNames{abrt: 6, bus: 7, fpe: 8, ill: 4, segv: 11, sys: 31, trap: 5}
	darwinSigs = sigNames{abrt: 6, bus: 10, fpe: 8, ill: 4, segv: 11, sys: 12, trap: 5}
)

func sigsFor(o OS) sigNames {
	if o == OSDarwin {
		return darwinSigs
	}
	return linuxSigs
}

// SignalName returns "SIGSEGV" etc. for the signals the native layer hooks,
// "SIG<n>" for others. Numbers are those of o (SIGBUS is 7 on Linux, 10 on
// darwin).
func SignalName(o OS, sig int) string {
	s := sigsFor(o)
	switch sig {
	case s.abrt:
		return "SIGABRT"
	case s.bus:
		return "SIGBUS"
	case s.fpe:
		return "SIGFPE"
	case s.ill:
		return "SIGILL"
	case s.segv:
		return "SIGSEGV"
	case s.sys:
		return "SIGSYS"
	case s.trap:
		return "SIGTRAP"
	}
	return "SIG" + strconv.Itoa(sig)
}

// SignalNumber returns the number of a hooked signal ("SIGSEGV") on o, 0 if
// unknown.
func SignalNumber(o OS, name string) int {
	s := sigsFor(o)
	switch name {
	case "SIGABRT":
		return s.abrt
	case "SIGBUS":
		return s.bus
	case "SIGFPE":
		return s.fpe
	case "SIGILL":
		return s.ill
	case "SIGSEGV":
		return s.segv
	case "SIGSYS":
		return s.sys
	case "SIGTRAP":
		return s.trap
	}
	return 0
}

// si_code names. Linux: <asm-generic/siginfo.h>; darwin: <sys/signal.h>
// (the FPE and ILL numbering differs).
var (
	linuxSegv = []string{1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR", 5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR", 8: "SEGV_MTEAERR", 9: "SEGV_MTESERR", 10: "SEGV_CPERR"}
	linuxBus  = []string{1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"}
	linuxFPE  = []string{1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB", 14: "FPE_FLTUNK", 15: "FPE_CONDTRAP"}
	linuxILL  = []string{1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK", 9: "ILL_BADIADDR"}
	linuxTrap = []string{1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT", 5: "TRAP_UNK", 6: "TRAP_PERF"}
	linuxSys  = []string{1: "SYS_SECCOMP", 2: "SYS_USER_DISPATCH"}

	darwinSegv = []string{1: "SEGV_MAPERR", 2: "SEGV_ACCERR"}
	darwinBus  = []string{1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"}
	darwinFPE  = []string{1: "FPE_FLTDIV", 2: "FPE_FLTOVF", 3: "FPE_FLTUND", 4: "FPE_FLTRES", 5: "FPE_FLTINV", 6: "FPE_FLTSUB", 7: "FPE_INTDIV", 8: "FPE_INTOVF"}
	darwinILL  = []string{1: "ILL_ILLOPC", 2: "ILL_ILLTRP", 3: "ILL_PRVOPC", 4: "ILL_ILLOPN", 5: "ILL_ILLADR", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"}
	darwinTrap = []string{1: "TRAP_BRKPT", 2: "TRAP_TRACE"}
)

// CodeName returns the name of si_code for sig on o ("SEGV_MAPERR",
// "SI_TKILL", ...), or "" when it has none.
func CodeName(o OS, sig, code int) string {
	if o == OSDarwin {
		switch code {
		case 0x10001:
			return "SI_USER"
		case 0x10002:
			return "SI_QUEUE"
		case 0x10003:
			return "SI_TIMER"
		case 0x10004:
			return "SI_ASYNCIO"
		case 0x10005:
			return "SI_MESGQ"
		}
	} else {
		switch code {
		case 0:
			return "SI_USER"
		case 0x80:
			return "SI_KERNEL"
		case -1:
			return "SI_QUEUE"
		case -2:
			return "SI_TIMER"
		case -3:
			return "SI_MESGQ"
		case -4:
			return "SI_ASYNCIO"
		case -5:
			return "SI_SIGIO"
		case -6:
			return "SI_TKILL"
		}
	}
	var table []string
	name := SignalName(o, sig)
	if o == OSDarwin {
		switch name {
		case "SIGSEGV":
			table = darwinSegv
		case "SIGBUS":
			table = darwinBus
		case "SIGFPE":
			table = darwinFPE
		case "SIGILL":
			table = darwinILL
		case "SIGTRAP":
			table = darwinTrap
		}
	} else {
		switch name {
		case "SIGSEGV":
			table = linuxSegv
		case "SIGBUS":
			table = linuxBus
		case "SIGFPE":
			table = linuxFPE
		case "SIGILL":
			table = linuxILL
		case "SIGTRAP":
			table = linuxTrap
		case "SIGSYS":
			table = linuxSys
		}
	}
	if code > 0 && code < len(table) {
		return table[code]
	}
	return ""
}

// Mach exception types, <mach/exception_types.h>.
var machExceptions = []string{
	1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC",
	4: "EXC_EMULATION", 5: "EXC_SOFTWARE", 6: "EXC_BREAKPOINT", 7: "EXC_SYSCALL",
	8: "EXC_MACH_SYSCALL", 9: "EXC_RPC_ALERT", 10: "EXC_CRASH", 11: "EXC_RESOURCE",
	12: "EXC_GUARD", 13: "EXC_CORPSE_NOTIFY",
}

// MachExceptionName returns "EXC_BAD_ACCESS" etc., "" if unknown.
func MachExceptionName(exc int) string {
	if exc > 0 && exc < len(machExceptions) {
		return machExceptions[exc]
	}
	return ""
}

// MachCodeName names code[0] of an EXC_BAD_ACCESS (a kern_return_t,
// <mach/kern_return.h>): "KERN_INVALID_ADDRESS", "KERN_PROTECTION_FAILURE".
// Other exceptions' codes are machine-specific and get "".
func MachCodeName(exc int, code int64) string {
	if exc != 1 {
		return ""
	}
	switch code {
	case 1:
		return "KERN_INVALID_ADDRESS"
	case 2:
		return "KERN_PROTECTION_FAILURE"
	case 50:
		return "KERN_CODESIGN_ERROR"
	}
	return ""
}
