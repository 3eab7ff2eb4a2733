//go:build cgo && (linux || darwin)

package main

/*
#cgo CFLAGS: -O1 -g -fno-omit-frame-pointer
#include <stdlib.h>
#include "crash.h"
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// cFuncs are the C functions a fault record's frames are checked against;
// their runtime addresses are printed at start ("cgocrash: func NAME ADDR")
// so the test can find their ranges in the binary's symbol table whatever
// the load address.
var cFuncs = map[string]unsafe.Pointer{
	"cgc_fault_inner":     unsafe.Pointer(C.cgc_fault_inner),
	"cgc_fault_outer":     unsafe.Pointer(C.cgc_fault_outer),
	"cgc_nofp_inner":      unsafe.Pointer(C.cgc_nofp_inner),
	"cgc_nofp_outer":      unsafe.Pointer(C.cgc_nofp_outer),
	"cgc_nofp_leaf":       unsafe.Pointer(C.cgc_nofp_leaf),
	"cgc_nofp_leaf_outer": unsafe.Pointer(C.cgc_nofp_leaf_outer),
	"cgc_abort":           unsafe.Pointer(C.cgc_abort),
	"cgc_fpe":             unsafe.Pointer(C.cgc_fpe),
	"cgc_trap":            unsafe.Pointer(C.cgc_trap),
	"cgc_bus":             unsafe.Pointer(C.cgc_bus),
}

func printFuncs() {
	for name, p := range cFuncs {
		fmt.Fprintf(os.Stderr, "cgocrash: func %s %#x\n", name, uintptr(p))
	}
}

func stampOpen(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if C.cgc_stamp_open(cs) != 0 {
		return fmt.Errorf("cannot map stamp file %s", path)
	}
	return nil
}

func cNullWrite()         { C.cgc_fault_outer(C.CGC_ADDR_GO_THREAD) }
func cNoFPWrite()         { C.cgc_nofp_outer(C.CGC_ADDR_NOFP) }
func cNoFPLeafWrite()     { C.cgc_nofp_leaf_outer(C.CGC_ADDR_NOFP_LEAF) }
func cAbort()             { C.cgc_abort() }
func cFPE()               { C.cgc_fpe() }
func cTrap()              { C.cgc_trap() }
func cPthreadFault()      { C.cgc_pthread_fault() }
func cPthreadOverflow()   { C.cgc_pthread_overflow() }
func cPthreadAbort()      { C.cgc_pthread_abort() }
func cThreadsFault(n int) { C.cgc_threads_fault(C.int(n)) }

// cForkChildFault forks; the child faults in C. It returns the child's
// wait status.
func cForkChildFault() int { return int(C.cgc_fork_child_fault()) }

func cBus(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if C.cgc_bus(cs) != 0 {
		return fmt.Errorf("cannot set up the SIGBUS mapping at %s", path)
	}
	return nil
}
