//go:build cgo

/* Linux arm64: ucontext_t.uc_mcontext is struct sigcontext
 * (<asm/sigcontext.h>): regs[31], sp, pc, pstate. */
#define _GNU_SOURCE
#include "cg_regs.h"

#include <sys/ucontext.h>

void cg_ctx_basic(const void *uctx, cg_ctx *out) {
    const mcontext_t *mc = &((const ucontext_t *)uctx)->uc_mcontext;
    out->pc = mc->pc;
    out->sp = mc->sp;
    out->fp = mc->regs[29];
    out->lr = mc->regs[30];
}

uint32_t cg_ctx_regs(const void *uctx, uint64_t *regs) {
    const mcontext_t *mc = &((const ucontext_t *)uctx)->uc_mcontext;
    uint32_t n = 0;
    for (int i = 0; i < 29; i++)
        regs[n++] = mc->regs[i];
    regs[n++] = mc->regs[29]; /* fp */
    regs[n++] = mc->regs[30]; /* lr */
    regs[n++] = mc->sp;
    regs[n++] = mc->pc;
    regs[n++] = mc->pstate; /* cpsr */
    return n;
}
