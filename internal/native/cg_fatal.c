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
