//go:build cgo

package main

/*
#cgo LDFLAGS: -lpthread
#include <pthread.h>
#include <stddef.h>

// A NULL write on a thread Go never created: crashguard's signal handler
// sees it first; Go's forwards it to the default action.
static void *scopecrash_fault(void *arg) {
	(void)arg;
	*(volatile int *)NULL = 1;
	return NULL;
}

static void scopecrash_fault_on_pthread(void) {
	pthread_t t;
	if (pthread_create(&t, NULL, scopecrash_fault, NULL) == 0)
		pthread_join(t, NULL);
}
*/
import "C"

func init() { modes["c-null-pthread"] = func() { C.scopecrash_fault_on_pthread() } }
