/* crash.h: C code that crashes on purpose, for testprogs/cgocrash. */
#ifndef CGOCRASH_H
#define CGOCRASH_H

#include <stdint.h>

/* Fault addresses the tests expect in si_addr. */
#define CGC_ADDR_GO_THREAD 0x28
#define CGC_ADDR_PTHREAD 0x38
#define CGC_ADDR_THREADS 0x48
#define CGC_ADDR_FORK 0x58
#define CGC_ADDR_NOFP 0x98
#define CGC_ADDR_NOFP_LEAF 0xa8

/* Maps path (8 bytes, created by the caller) so that cgc_stamp can store
 * CLOCK_REALTIME just before a fault: the test compares it with the
 * record's time to measure fault -> record complete. */
int cgc_stamp_open(const char *path);

void cgc_fault_outer(uintptr_t addr); /* -> cgc_fault_inner: *(int*)addr = 1 */
void cgc_fault_inner(uintptr_t addr);
/* The same two without frame records (GCC): only their CFI names the
 * callers. */
void cgc_nofp_outer(uintptr_t addr);
void cgc_nofp_inner(uintptr_t addr);
/* And a leaf (it calls nothing: on arm64 its return address is only in
 * lr) under a caller without frame records. */
void cgc_nofp_leaf_outer(uintptr_t addr);
void cgc_nofp_leaf(uintptr_t addr);
void cgc_abort(void);
void cgc_fpe(void);
void cgc_trap(void);
int cgc_bus(const char *path); /* returns -1 if it could not set up */
int cgc_pthread_fault(void);
int cgc_pthread_overflow(void);
int cgc_pthread_abort(void);
int cgc_threads_fault(int n);
/* fork(); the child faults in C; returns the child's wait status. */
int cgc_fork_child_fault(void);

#endif
