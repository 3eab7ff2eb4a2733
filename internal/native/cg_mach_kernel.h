/*
 * cg_mach_kernel.h: everything the Mach exception server (cg_mach_server_darwin.c)
 * asks of the kernel, in one place.
 *
 * On darwin the server calls the real functions of <mach/mach.h> by their
 * own names. Built with CG_MACHSIM (package internal/native/machsim, which
 * only tests import), machsim_kernel.h supplies the same types and
 * constants (checked against the SDK when built for darwin) and maps each of
 * these names onto a model of xnu's exception delivery, so the very same
 * server source runs on Linux under test:
 *
 *   mach_msg, mach_msg_destroy, mach_task_self, mach_thread_self,
 *   mach_port_allocate, mach_port_insert_right, mach_port_mod_refs,
 *   mach_port_deallocate, task_swap_exception_ports,
 *   task_set_exception_ports, task_get_exception_ports,
 *   thread_set_exception_ports, thread_get_state, thread_set_state,
 *
 * and the helpers below (cg_mach_darwin.c on darwin, the model otherwise).
 * pthread_sigmask is the real one on both sides: the model reads the
 * serving thread's real mask when it delivers a signal to it.
 */
#ifndef CG_MACH_KERNEL_H
#define CG_MACH_KERNEL_H

#include <stdint.h>

#include "cg_recorder.h"

#if defined(CG_MACHSIM)
#include "machsim_kernel.h"
#else
#include <mach/mach.h>
#endif

/* What the record of an exception needs from the faulting thread:
 * thread_info(THREAD_IDENTIFIER_INFO) and thread_get_state of the native
 * flavor, as flightrec's registers. */
typedef struct {
	uint64_t thread_id; /* pthread_threadid_np's number; 0 if unknown */
	uint64_t regs[CG_MAX_REGS];
	uint32_t nregs;
	uint64_t pc, sp, fp, lr;
} cg_mach_thread_facts;

/* Fills *out for thread (any flavor of thread port). KERN_SUCCESS, or the
 * failing call's kern_return_t with *out zeroed. */
kern_return_t cg_mach_thread_facts_get(thread_t thread, cg_mach_thread_facts *out);
/* The native thread state flavor (ARM_THREAD_STATE64, x86_THREAD_STATE64). */
thread_state_flavor_t cg_mach_native_flavor(void);
/* Starts fn(arg) on a detached pthread created with every signal blocked
 * (pthread_create copies the creator's mask). 0 or an errno value. */
int cg_mach_start_thread(void *(*fn)(void *), void *arg);
/* Names the calling thread (the model also learns its role from it). */
void cg_mach_name_thread(const char *name);
/* Monotonic milliseconds, and a sleep; both async-signal-safe. */
uint64_t cg_mach_now_ms(void);
void cg_mach_sleep_ms(uint32_t ms);
/* 1 when a debugger is attached (P_TRACED): then nothing is installed. */
int cg_mach_being_traced(void);
/* 1 when this system's NDR_record is the codec's constant. */
int cg_mach_ndr_ok(void);

#endif /* CG_MACH_KERNEL_H */
