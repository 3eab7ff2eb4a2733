//go:build cgo && (linux || darwin)

/* cg_api.c: small entry points for Go (native_unix.go); install time only. */
#include "cg_recorder.h"

#include <signal.h>
#include <string.h>

int cg_api_scan_images(void) {
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    int n = rec != NULL ? cg_images_scan(rec) : -1;
    cg_writer_leave();
    return n;
}

void cg_api_set_layers(uint32_t bits) {
    cg_writer_enter();
    cg_recorder_set_layers(bits);
    cg_writer_leave();
}

/* ---- Test entry points (testhooks_unix.go) ---- */

int cg_layout_field(int i, const char **name, uint64_t *off, uint64_t *size);

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

int cg_test_code_addr(uint64_t a) { return cg_code_addr(a); }

int cg_test_safe_read(void *dst, uint64_t src, size_t n) {
    cg_os_init();
    return cg_safe_read(dst, src, n);
}

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
