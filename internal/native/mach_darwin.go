//go:build darwin && cgo

package native

/*
#include <stdint.h>
#include <mach/mach_error.h>
#include "cg_machmsg.h"

int cg_mach_translated(void);
*/
import "C"

import (
	"fmt"
	"syscall"
)

// machCallError is a Mach call of the native layer that failed.
type machCallError struct {
	Call string // the failing call, e.g. "task_swap_exception_ports"
	Code int32  // its kern_return_t (an errno for pthread_create)
}

func (e *machCallError) Error() string {
	if e.Call == "pthread_create" {
		return fmt.Sprintf("crashguard/native: %s: %v", e.Call, syscall.Errno(e.Code))
	}
	return fmt.Sprintf("crashguard/native: %s: %s (kern_return_t %#x)",
		e.Call, C.GoString(C.mach_error_string(C.mach_error_t(e.Code))), uint32(e.Code))
}

// installMach installs crashguard's first-chance Mach exception handler
// (cg_mach_server_darwin.c): a port that receives EXC_BAD_ACCESS for the
// whole task (64-bit codes, EXCEPTION_DEFAULT), served by a pthread created
// in C that never calls into Go, plus a second level for faults of that
// thread itself (a thread-level port served by a second small thread).
//
// For each exception of this process it first forwards to the handler it
// displaced (re-encoded for that handler's behavior, one 2 s deadline for
// the whole exchange); if that handler handled it, its answer is relayed and
// nothing is recorded. Otherwise it records exception, code, fault address
// and the thread's registers through cg_record_mach_exception and answers
// KERN_FAILURE, so the kernel raises SIGSEGV/SIGBUS and Go's signal handler
// runs exactly as without crashguard. It never answers KERN_SUCCESS by
// itself: an unchanged thread state re-runs the faulting instruction
// forever (PLCrashReporter issue 159). A child's exception (ports survive
// fork and exec) is passed on to the displaced handler, never recorded, and
// the fork child handler takes the port off the child (EXC_BAD_ACCESS to
// MACH_PORT_NULL: the handler it displaced cannot be put back there, as a
// fork child's IPC space holds none of the parent's port names).
//
// It returns (false, nil) without installing anything, and only then, when a
// debugger is attached (P_TRACED): the debugger owns the exception ports, and
// in-process handlers stay out of its way (KSCrash KSDebug.c). An error means
// a Mach call failed; the signal chain alone still records faults. Calling it
// again after success does nothing.
//
// Known limits: a handler installed after this one (a debugger attaching
// later) takes the port over until it restores ours; a displaced handler
// with EXCEPTION_IDENTITY_PROTECTED (or a newer behavior) cannot be
// forwarded to faithfully and is answered KERN_FAILURE; a hardened process
// (platform binary, or signed with the com.apple.developer.hardened-process
// entitlement) refuses EXCEPTION_DEFAULT after a guard exception, and there
// the layer registers EXCEPTION_STATE, keeps forwarding and records nothing
// (the signal chain still does); under Rosetta a thread state that
// thread_get_state returns with 0x10000003 is accepted (bugsnag-cocoa
// PR 992). Everything but the system calls is exercised on Linux by
// TestMachSim* against a model of xnu; that it runs is only proven on a Mac.
func installMach() (bool, error) {
	var kr C.int32_t
	var what *C.char
	switch C.cg_mach_install(&kr, &what) {
	case C.CG_MACH_INSTALLED:
		return true, nil
	case C.CG_MACH_SKIPPED_TRACED:
		return false, nil
	default:
		return false, &machCallError{Call: C.GoString(what), Code: int32(kr)}
	}
}

// setCrashPortNull(true) sets the task's EXC_CRASH exception port to
// MACH_PORT_NULL, keeping the port that was there (launchd gives every
// process ReportCrash's); setCrashPortNull(false) puts it back. Repeating
// either is a no-op.
//
// Offered because it is the classic recipe, with this caveat: it does not
// stop Crash Reporter. The kernel makes a corpse of a crashing process when
// exception_triage fails at all three levels (xnu bsd/kern/kern_exit.c
// proc_prepareexit), and the corpse sends EXC_CORPSE_NOTIFY to ReportCrash
// at the host level (osfmk/kern/task.c task_deliver_crash_notification), so
// nulling the task's port only moves ReportCrash from the EXC_CRASH path to
// the corpse-notify path. What does stop it is exiting with _exit(128+sig)
// from the fatal signal handler before the process dies by the signal
// (Chromium's DisableOSCrashDumps), which the signal chain does. crashguard
// never registers a port of its own for EXC_CRASH or EXC_CORPSE_NOTIFY: a
// receiver inside the crashing task is skipped by the kernel (exception.c
// check_exc_receiver_dependency) or hangs the process (TestMachSimSourceRules
// and the model keep this a rule).
func setCrashPortNull(on bool) error {
	flag := C.int(0)
	if on {
		flag = 1
	}
	var what *C.char
	if kr := C.cg_mach_set_crash_port_null(flag, &what); kr != 0 {
		return &machCallError{Call: C.GoString(what), Code: int32(kr)}
	}
	return nil
}

// processTranslated reports whether the process runs under Rosetta 2
// (sysctl.proc_translated; cg_mach_darwin.c).
func processTranslated() bool { return C.cg_mach_translated() != 0 }
