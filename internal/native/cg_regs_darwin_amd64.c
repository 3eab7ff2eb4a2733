//go:build cgo

/* darwin amd64: uc_mcontext points to struct __darwin_mcontext64 whose __ss
 * is x86_thread_state64_t (<mach/i386/_structs.h>): the field order IS the
 * flightrec order. */
#include "cg_regs.h"

#include <sys/ucontext.h>

void cg_ctx_basic(const void *uctx, cg_ctx *out) {
    const ucontext_t *uc = (const ucontext_t *)uctx;
    out->pc = uc->uc_mcontext->__ss.__rip;
    out->sp = uc->uc_mcontext->__ss.__rsp;
    out->fp = uc->uc_mcontext->__ss.__rbp;
    out->lr = 0;
}

uint32_t cg_ctx_regs(const void *uctx, uint64_t *regs) {
    const ucontext_t *uc = (const ucontext_t *)uctx;
    const _STRUCT_X86_THREAD_STATE64 *s = &uc->uc_mcontext->__ss;
    uint32_t n = 0;
    regs[n++] = s->__rax;
    regs[n++] = s->__rbx;
    regs[n++] = s->__rcx;
    regs[n++] = s->__rdx;
    regs[n++] = s->__rdi;
    regs[n++] = s->__rsi;
    regs[n++] = s->__rbp;
    regs[n++] = s->__rsp;
    regs[n++] = s->__r8;
    regs[n++] = s->__r9;
    regs[n++] = s->__r10;
    regs[n++] = s->__r11;
    regs[n++] = s->__r12;
    regs[n++] = s->__r13;
    regs[n++] = s->__r14;
    regs[n++] = s->__r15;
    regs[n++] = s->__rip;
    regs[n++] = s->__rflags;
    regs[n++] = s->__cs;
    regs[n++] = s->__fs;
    regs[n++] = s->__gs;
    return n;
}
