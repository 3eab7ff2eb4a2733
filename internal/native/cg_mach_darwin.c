//go:build cgo && darwin

/*
 * cg_mach_darwin.c: the darwin side of cg_mach_kernel.h's helpers for the
 * Mach exception server (cg_mach_server_darwin.c). The model of xnu in
 * internal/native/machsim implements the same functions for the Linux
 * tests; what is here is compile-checked by .ci/darwin-build.sh and runs on
 * the macOS workflow.
 */
#include "cg_mach_kernel.h"
#include "cg_machmsg.h"

#include <errno.h>
#include <mach/mach.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* thread_get_state under Rosetta 2 returns this (an undocumented
 * MACH_SEND_* range value) yet fills the state (bugsnag/bugsnag-cocoa PR 992,
 * comment by kstenerud). */
#define CG_ROSETTA_STATE_KR 0x10000003

/* -1 unknown, 0 native, 1 translated: asked once at install. */
static atomic_int g_translated = -1;

/* 1 when this process runs under Rosetta (sysctl.proc_translated, Apple's
 * "About the Rosetta translation environment"). Install time only. */
static int translated(void)
{
	int t = atomic_load(&g_translated);
	if (t >= 0)
		return t;
	int v = 0;
	size_t size = sizeof v;
	if (sysctlbyname("sysctl.proc_translated", &v, &size, NULL, 0) != 0)
		v = 0; /* ENOENT on systems without Rosetta: native */
	atomic_store(&g_translated, v == 1);
	return v == 1;
}

int cg_mach_translated(void) { return translated(); }

static int state_ok(kern_return_t kr, mach_msg_type_number_t count)
{
	if (kr == KERN_SUCCESS)
		return 1;
	return kr == CG_ROSETTA_STATE_KR && count > 0 && atomic_load(&g_translated) == 1;
}

kern_return_t cg_mach_thread_facts_get(thread_t thread, cg_mach_thread_facts *out)
{
	memset(out, 0, sizeof *out);
	thread_identifier_info_data_t ident;
	mach_msg_type_number_t ident_count = THREAD_IDENTIFIER_INFO_COUNT;
	kern_return_t kr =
	    thread_info(thread, THREAD_IDENTIFIER_INFO, (thread_info_t)&ident, &ident_count);
	if (kr == KERN_SUCCESS)
		out->thread_id = ident.thread_id; /* the value pthread_threadid_np reports */

#if defined(__arm64__)
	/* x0-x28, fp, lr, sp, pc, cpsr (mach/arm/_structs.h). A plain arm64
	 * process's state carries no pointer authentication; the accessors
	 * are the SDK's own, correct for arm64e too. */
	arm_thread_state64_t ts;
	mach_msg_type_number_t count = ARM_THREAD_STATE64_COUNT;
	kr = thread_get_state(thread, ARM_THREAD_STATE64, (thread_state_t)&ts, &count);
	if (!state_ok(kr, count))
		return kr;
	out->pc = (uint64_t)arm_thread_state64_get_pc(ts);
	out->sp = (uint64_t)arm_thread_state64_get_sp(ts);
	out->fp = (uint64_t)arm_thread_state64_get_fp(ts);
	out->lr = (uint64_t)arm_thread_state64_get_lr(ts);
	for (int i = 0; i < 29; i++)
		out->regs[out->nregs++] = ts.__x[i];
	out->regs[out->nregs++] = out->fp;
	out->regs[out->nregs++] = out->lr;
	out->regs[out->nregs++] = out->sp;
	out->regs[out->nregs++] = out->pc;
	out->regs[out->nregs++] = ts.__cpsr;
#elif defined(__x86_64__)
	/* rax rbx rcx rdx rdi rsi rbp rsp r8-r15 rip rflags cs fs gs
	 * (mach/i386/_structs.h). Under Rosetta a process also has native
	 * arm64 threads (swiftlang/swift PR 76399), for which this flavor
	 * fails: the record then keeps codes and thread id only. */
	x86_thread_state64_t ts;
	mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
	kr = thread_get_state(thread, x86_THREAD_STATE64, (thread_state_t)&ts, &count);
	if (!state_ok(kr, count))
		return kr;
	const uint64_t all[] = {ts.__rax, ts.__rbx, ts.__rcx, ts.__rdx, ts.__rdi, ts.__rsi,
				ts.__rbp, ts.__rsp, ts.__r8,  ts.__r9,  ts.__r10, ts.__r11,
				ts.__r12, ts.__r13, ts.__r14, ts.__r15, ts.__rip, ts.__rflags,
				ts.__cs,  ts.__fs,  ts.__gs};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		out->regs[out->nregs++] = all[i];
	out->pc = ts.__rip;
	out->sp = ts.__rsp;
	out->fp = ts.__rbp;
#endif
	return KERN_SUCCESS;
}

thread_state_flavor_t cg_mach_native_flavor(void)
{
#if defined(__arm64__)
	return ARM_THREAD_STATE64;
#else
	return x86_THREAD_STATE64;
#endif
}

int cg_mach_start_thread(void *(*fn)(void *), void *arg)
{
	/* Every signal blocked while creating: the new thread must never run
	 * a Go (or any) signal handler for a signal meant for another thread;
	 * it unblocks the synchronous ones itself. */
	(void)translated(); /* asked here, at install, never on the crash path */
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

void cg_mach_name_thread(const char *name) { (void)pthread_setname_np(name); }

uint64_t cg_mach_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cg_mach_sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* A debugger (lldb's debugserver) owns the task's exception ports while it
 * is attached; in-process reporters stay out of its way (KSCrash
 * KSDebug.c ksdebug_isBeingTraced, Apple QA1361). */
int cg_mach_being_traced(void)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, getpid()};
	struct kinfo_proc info;
	size_t size = sizeof info;
	memset(&info, 0, sizeof info);
	if (sysctl(mib, 4, &info, &size, NULL, 0) != 0)
		return 0;
	return (info.kp_proc.p_flag & P_TRACED) != 0;
}

int cg_mach_ndr_ok(void) { return memcmp(&NDR_record, cg_mach_ndr_record, sizeof NDR_record) == 0; }
