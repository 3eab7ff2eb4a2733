//go:build cgo

package main

/*
#include <stdlib.h>

static void crashgen_segv(void) {
	volatile int *p = (int *)0;
	*p = 1;
}

static void crashgen_abort(void) {
	abort();
}
*/
import "C"

const haveCgo = true

// cgoSegv faults in C code on a Go thread: Go prints "signal arrived during
// cgo execution".
func cgoSegv() { C.crashgen_segv() }

// cgoAbort calls abort(3) from C on a Go thread.
func cgoAbort() { C.crashgen_abort() }
