package signals

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

// MachCodeName names code[0] of an EXC_BAD_ACCESS: a kern_return_t
// (<mach/kern_return.h>: "KERN_INVALID_ADDRESS", "KERN_PROTECTION_FAILURE")
// for a page fault, else a machine code ("EXC_I386_GPFLT", "EXC_ARM_DA_ALIGN").
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
	// Not kern_return_t values: machine codes the kernel puts in code[0]
	// for faults that are no page fault (xnu osfmk/mach/i386/exception.h,
	// osfmk/mach/arm/exception.h). They do not collide with the
	// kern_return_t values an EXC_BAD_ACCESS carries on the other
	// architecture.
	case 13:
		return "EXC_I386_GPFLT" // x86_64 general protection: a non-canonical address, subcode 0
	case 0x101:
		return "EXC_ARM_DA_ALIGN"
	case 0x102:
		return "EXC_ARM_DA_DEBUG"
	case 0x103:
		return "EXC_ARM_SP_ALIGN"
	case 0x104:
		return "EXC_ARM_SWP"
	case 0x105:
		return "EXC_ARM_PAC_FAIL"
	}
	return ""
}
