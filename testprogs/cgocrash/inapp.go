//go:build cgo && (linux || darwin)

package main

/*
#cgo linux LDFLAGS: -ldl
#include <stdint.h>
#include <stdlib.h>
void cgc_other_fault(uintptr_t addr);
int cgc_pthread_other_fault(void);
int cgc_lib_open(const char *path);
int cgc_lib_fault(void);
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// Modes for the in-app tests (crashguard/inapp_test.go): a fault in another
// C function than c-null-pthread's, on a pthread created in C; and a fault
// in a library of the program's own, loaded at run time.
func init() {
	modes["c-null-pthread-other"] = mode{true, "NULL write (0x68) in another C function on a pthread created in C",
		func(*config) error { C.cgc_pthread_other_fault(); return nil }}
	modes["c-null-dlopen"] = mode{true, "dlopen $CGOCRASH_LIB (a library with cglib_fault), tell the native layer (RefreshImages), fault in it on a pthread",
		dlopenFault}
}

func dlopenFault(*config) error {
	path := os.Getenv("CGOCRASH_LIB")
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.cgc_lib_open(cs); rc != 0 {
		return fmt.Errorf("cannot load %q (%d)", path, rc)
	}
	if n, err := guard.RefreshImages(); err != nil {
		fmt.Fprintf(os.Stderr, "cgocrash: refresh images: %v\n", err)
	} else {
		fmt.Fprintf(os.Stderr, "cgocrash: refresh images: %d added\n", n)
	}
	C.cgc_lib_fault()
	return nil
}
