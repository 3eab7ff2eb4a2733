//go:build cgo

/* Linux amd64: ucontext_t.uc_mcontext.gregs indexed by REG_* from
 * <sys/ucontext.h> (glibc; musl has the same names under _GNU_SOURCE). */
#define _GNU_SOURCE
#include "cg_regs.h"

#include <sys/ucontext.h>

void cg_ctx_basic(const void *uctx, cg_ctx *out) {
    const greg_t *g = ((const ucontext_t *)uctx)->uc_mcontext.gregs;
    out->pc = (uint64_t)g[REG_RIP];
    out->sp = (uint64_t)g[REG_RSP];
    out->fp = (uint64_t)g[REG_RBP];
    out->lr = 0;
}

uint32_t cg_ctx_regs(const void *uctx, uint64_t *regs) {
    const greg_t *g = ((const ucontext_t *)uctx)->uc_mcontext.gregs;
    /* CSGSFS packs cs | gs << 16 | fs << 32 (struct sigcontext: cs, gs, fs). */
    uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
    uint32_t n = 0;
    regs[n++] = (uint64_t)g[REG_RAX];
    regs[n++] = (uint64_t)g[REG_RBX];
    regs[n++] = (uint64_t)g[REG_RCX];
    regs[n++] = (uint64_t)g[REG_RDX];
    regs[n++] = (uint64_t)g[REG_RDI];
    regs[n++] = (uint64_t)g[REG_RSI];
    regs[n++] = (uint64_t)g[REG_RBP];
    regs[n++] = (uint64_t)g[REG_RSP];
    regs[n++] = (uint64_t)g[REG_R8];
    regs[n++] = (uint64_t)g[REG_R9];
    regs[n++] = (uint64_t)g[REG_R10];
    regs[n++] = (uint64_t)g[REG_R11];
    regs[n++] = (uint64_t)g[REG_R12];
    regs[n++] = (uint64_t)g[REG_R13];
    regs[n++] = (uint64_t)g[REG_R14];
    regs[n++] = (uint64_t)g[REG_R15];
    regs[n++] = (uint64_t)g[REG_RIP];
    regs[n++] = (uint64_t)g[REG_EFL];
    regs[n++] = csgsfs & 0xffff;         /* cs */
    regs[n++] = (csgsfs >> 32) & 0xffff; /* fs */
    regs[n++] = (csgsfs >> 16) & 0xffff; /* gs */
    return n;
}
