//go:build cgo && (linux || darwin)

/*
 * cg_fatal.c: what si_code says, and the "known fatal" rule the handler
 * uses to mark a record fatal and to decide on suppression.
 */
#define _GNU_SOURCE
#include "cg_signal.h"

#include <signal.h>
#include <stdatomic.h>

static _Atomic int g_self_pid;

void cg_set_self_pid(int pid) { atomic_store(&g_self_pid, pid); }

int cg_code_from_user(int code) {
#if defined(__APPLE__)
    /* darwin: SI_USER 0x10001, SI_QUEUE 0x10002, ... (<sys/signal.h>);
     * CPU faults have small codes (0 for some, e.g. an x86 GP fault). */
    return code >= 0x10001;
#else
    /* Linux: SI_USER 0, negative for tkill/sigqueue/timers/...;
     * positive codes come from the kernel (SI_KERNEL 0x80 included). */
    return code <= 0;
#endif
}

/* darwin has no SI_USER: xnu sets si_code 0 for a signal sent with kill or
 * pthread_kill (bsd/kern/kern_sig.c psignal_internal), and sendsig then
 * recomputes it for SIGSEGV/SIGBUS/SIGILL/SIGFPE from the thread's last
 * fault whatever the origin (bsd/dev/arm/unix_signal.c, i386/unix_signal.c),
 * so si_code cannot tell a kill -SEGV from a fault; Go's sigFromUser has the
 * same blind spot. With the Mach layer installed every CPU fault passes the
 * task's exception port first (osfmk/kern/exception.c exception_triage), so
 * a signal is a CPU fault exactly when it completed a Mach record of its
 * thread. Without the Mach layer the origin is unknown and the signal is
 * taken as a fault: a C thread's crash must still be marked fatal. Returns 0
 * when the signal is known to be sent. */
int cg_darwin_cpu_fault(int sig, int mach_layer, int merged) {
    /* Only EXC_BAD_ACCESS is taken at the task port: the rule says nothing
     * of SIGILL, SIGFPE, SIGTRAP (EXC_BAD_INSTRUCTION, EXC_ARITHMETIC,
     * EXC_BREAKPOINT go straight to the host level). */
    if (sig != SIGSEGV && sig != SIGBUS)
        return 1;
    return merged || !mach_layer;
}

/* A synchronous signal raised by the CPU for the instruction at pc. */
int cg_cpu_fault(int sig, int code) {
    return !cg_code_from_user(code) && sig != SIGABRT;
}

/* The "known fatal" rule. The handler marks a record fatal, and may
 * suppress, only when it can prove that the process is about to die:
 *
 *   armed:    the replaced handler is the Go runtime's (checked by name at
 *             install) and the program is not a c-shared/c-archive library
 *             (whose host may handle faults), and
 *   not in Go code: the pc is outside the Go text, or the thread is not a Go
 *             thread; a fault in Go code may become a recovered panic
 *             (nil dereference, debug.SetPanicOnFault), and
 *   the signal is one Go never survives outside Go code:
 *     - a CPU fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP; not SIGSYS,
 *       which seccomp raises for a syscall Go may choose to ignore): on a
 *       Go thread Go throws "signal arrived during cgo execution"; on
 *       another thread it re-raises with SIG_DFL (badsignal), or
 *     - SIGABRT raised by this process (abort(), raise()): abort() never
 *       returns, whatever any handler does.
 *
 * It assumes no handler was installed before the Go runtime started (Go
 * would forward faults in C code to it); in a Go executable only an
 * LD_PRELOAD library or a C constructor could do that. */
int cg_known_fatal(int sig, int code, int raised_by_self, int go_code, int armed) {
    if (!armed || go_code)
        return 0;
    if (sig == SIGABRT)
        return raised_by_self;
    if (sig == SIGSYS)
        return 0;
    return cg_cpu_fault(sig, code);
}

int cg_raised_by_self(int sig, const siginfo_t *info) {
    if (sig != SIGABRT || info == NULL)
        return 0;
#if defined(__APPLE__)
    /* darwin's abort() is pthread_kill(self); xnu fills si_pid from the
     * sender, 0 when it has none. Compile-checked only. */
    return info->si_pid == 0 || info->si_pid == atomic_load(&g_self_pid);
#else
    /* glibc and musl raise() use tgkill: SI_TKILL from our own pid. */
    return info->si_code == SI_TKILL && info->si_pid == atomic_load(&g_self_pid);
#endif
}
