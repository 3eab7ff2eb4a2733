//go:build cgo && (linux || darwin)

package native

/*
#include "cg_recorder.h"
#include "cg_signal.h"
*/
import "C"

import "unsafe"

// recorderEntryPoints returns the recorder's C entry points that the Mach
// exception server and the darwin signal handler call, for the model of xnu
// in internal/native/machsim, which only the TestMachSim* tests use.
func recorderEntryPoints() (record, merge unsafe.Pointer) {
	return unsafe.Pointer(C.cg_record_mach_exception), unsafe.Pointer(C.cg_merge_signal_into_mach)
}

// darwinCPUFault runs cg_darwin_cpu_fault for SIGSEGV.
func darwinCPUFault(machLayer, merged bool) bool {
	b := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	return C.cg_darwin_cpu_fault(C.int(C.SIGSEGV), b(machLayer), b(merged)) != 0
}
