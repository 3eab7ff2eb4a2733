//go:build cgo && (linux || darwin)

package main

/*
#include <stdint.h>
void cgc_other_fault(uintptr_t addr);
int cgc_pthread_other_fault(void);
*/
import "C"

// Modes for the in-app tests (crashguard/inapp_test.go): a fault in another
// C function than c-null-pthread's, on a pthread created in C.
func init() {
	modes["c-null-pthread-other"] = mode{true, "NULL write (0x68) in another C function on a pthread created in C",
		func(*config) error { C.cgc_pthread_other_fault(); return nil }}
}
