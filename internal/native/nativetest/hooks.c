//go:build cgo && (linux || darwin)

/*
 * hooks.c: test entry points into internal/native's C core. The cg_*
 * functions they call are that package's, linked into the same test binary
 * (cgo resolves them at the external link; see nativetest.go).
 */
#include "cg_recorder.h"
#include "cg_signal.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Walks the stack from this function's own frame. */
__attribute__((noinline)) uint32_t cg_test_unwind_here(uint64_t *frames, uint32_t max) {
    uint64_t fp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    volatile uint64_t marker = 0;
    uint64_t sp = (uint64_t)(uintptr_t)&marker;
    if (sp > fp)
        sp = fp;
    uint32_t flags = 0;
    return cg_unwind((uint64_t)(uintptr_t)&cg_test_unwind_here, sp, fp, 0, frames, max, 0, &flags);
}

uint64_t cg_test_c_function(void) { return (uint64_t)(uintptr_t)&cg_test_unwind_here; }

uint32_t cg_test_unwind(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t *frames,
                        uint32_t max, uint32_t opts, uint32_t *flags) {
    cg_os_init();
    return cg_unwind(pc, sp, fp, lr, frames, max, opts, flags);
}

int cg_test_safe_read(void *dst, uint64_t src, size_t n) {
    cg_os_init();
    return cg_safe_read(dst, src, n);
}

#if defined(__linux__)
int cg_safe_read_fallback(void);
int cg_test_safe_read_fallback(void) { return cg_safe_read_fallback(); }
#else
int cg_test_safe_read_fallback(void) { return -1; }
#endif

/* Claims and completes a record with the given flags (slot policy tests). */
int64_t cg_test_write_record(uint32_t flags, int complete) {
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    int64_t seq = -1;
    if (rec != NULL) {
        cg_record *r = cg_record_claim(rec);
        if (r != NULL) {
            r->flags = flags;
            r->signo = 11;
            seq = (int64_t)r->seq;
            if (complete)
                cg_record_complete(r);
        }
    }
    cg_writer_leave();
    return seq;
}

/* The darwin signal handler's merge into a Mach record, as a writer of its
 * own (the Linux tests and the machsim model call it). */
int cg_test_merge_signal_into_mach(uint64_t thread_id, int64_t now_ns, int sig, int code,
                                   uint64_t addr, uint32_t flags) {
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    int found = rec != NULL && cg_merge_into_mach(rec, thread_id, now_ns, sig, code, addr, flags);
    cg_writer_leave();
    return found;
}

/* A fault inside the handler's own recording code (TestFaultInsideHandler):
 * the active recorder's header pointer is pointed at the unmapped first page,
 * so the next record the handler claims faults, there and nowhere else. With
 * unblock, sig's sigaction (ours) is changed to leave sig unblocked while
 * the handler runs (SA_NODEFER, as darwin installs it), so that fault
 * re-enters the handler and its guard must end the process; without, Linux
 * keeps it blocked and the kernel's forced default action ends it. The Mach
 * exception thread must not be running: it would fault the same way. */
int cg_test_break_recorder(int sig, int unblock) {
    if (unblock) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0)
            return -1;
        sa.sa_flags |= SA_NODEFER;
        sigdelset(&sa.sa_mask, sig);
        if (sigaction(sig, &sa, NULL) != 0)
            return -1;
    }
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    if (rec != NULL)
        rec->hdr = (cg_header *)16;
    cg_writer_leave();
    return rec != NULL ? 0 : -1;
}

/* Counts entries into the handler of sig: a handler installed on top that
 * writes CG_TEST_ENTRY to stderr and calls the one it replaced, with sig
 * unblocked (SA_NODEFER). With the recorder broken, a working re-entrancy
 * guard makes that two entries (the fault, then the fault inside the
 * handler, which ends the process); without one the handler recurses until
 * its stack runs out. */
#define CG_TEST_ENTRY "nativetest: handler entry\n"
static struct sigaction g_counted_old;

static void counting_handler(int sig, siginfo_t *info, void *uctx) {
    ssize_t n = write(2, CG_TEST_ENTRY, sizeof CG_TEST_ENTRY - 1);
    (void)n;
    g_counted_old.sa_sigaction(sig, info, uctx);
}

int cg_test_count_entries(int sig) {
    if (sigaction(sig, NULL, &g_counted_old) != 0 || !(g_counted_old.sa_flags & SA_SIGINFO))
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = counting_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

/* A third-party handler installed after ours that chains to whatever it
 * replaced, as well-behaved crash reporters do. */
static struct sigaction g_foreign_old;
static _Atomic int g_foreign_calls;

static void foreign_handler(int sig, siginfo_t *info, void *uctx) {
    atomic_fetch_add(&g_foreign_calls, 1);
    if (g_foreign_old.sa_flags & SA_SIGINFO)
        g_foreign_old.sa_sigaction(sig, info, uctx);
}

int cg_test_install_foreign(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = foreign_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    return sigaction(sig, &sa, &g_foreign_old);
}

int cg_test_foreign_calls(void) { return atomic_load(&g_foreign_calls); }
