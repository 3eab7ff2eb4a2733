package flightrec

import (
	"strconv"

	"github.com/crashguard/crashguard-go/internal/signals"
)

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

// GOOS returns the GOOS whose signal tables (package signals) give the
// meaning of o's signal numbers and si_code values: "darwin" for OSDarwin,
// "linux" otherwise (an unknown OS is read as Linux).
func (o OS) GOOS() string {
	if o == OSDarwin {
		return "darwin"
	}
	return "linux"
}

// SignalName returns the name of signal sig on o ("SIGBUS" is 7 on Linux, 10
// on darwin), or "SIG<n>" for a number without a name.
func SignalName(o OS, sig int) string {
	if name := signals.Name(o.GOOS(), sig); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(sig)
}

// CodeName returns the name of si_code for sig on o ("SEGV_MAPERR",
// "SI_TKILL", ...), or "" when it has none.
func CodeName(o OS, sig, code int) string {
	return signals.CodeName(o.GOOS(), sig, code)
}

// MachExceptionName returns "EXC_BAD_ACCESS" etc., "" if unknown
// (signals.MachExceptionName).
func MachExceptionName(exc int) string { return signals.MachExceptionName(exc) }

// MachCodeName names code[0] of an EXC_BAD_ACCESS (signals.MachCodeName).
func MachCodeName(exc int, code int64) string { return signals.MachCodeName(exc, code) }
