//go:build cgo

/* darwin arm64: uc_mcontext points to struct __darwin_mcontext64 whose __ss
 * is arm_thread_state64_t (<mach/arm/_structs.h>): x[29], fp, lr, sp, pc,
 * cpsr. The SDK's accessor macros (<mach/arm/thread_status.h>) also work
 * when the struct is opaque (arm64e, pointer authentication), so they are
 * used when present. */
#include "cg_regs.h"

#include <mach/thread_status.h>
#include <sys/ucontext.h>

#if defined(__darwin_arm_thread_state64_get_pc)
#define CG_PC(s) ((uint64_t)__darwin_arm_thread_state64_get_pc(s))
#define CG_LR(s) ((uint64_t)__darwin_arm_thread_state64_get_lr(s))
#define CG_SP(s) ((uint64_t)__darwin_arm_thread_state64_get_sp(s))
#define CG_FP(s) ((uint64_t)__darwin_arm_thread_state64_get_fp(s))
#else
#define CG_PC(s) ((uint64_t)(s).__pc)
#define CG_LR(s) ((uint64_t)(s).__lr)
#define CG_SP(s) ((uint64_t)(s).__sp)
#define CG_FP(s) ((uint64_t)(s).__fp)
#endif

void cg_ctx_basic(const void *uctx, cg_ctx *out) {
    const ucontext_t *uc = (const ucontext_t *)uctx;
    out->pc = CG_PC(uc->uc_mcontext->__ss);
    out->sp = CG_SP(uc->uc_mcontext->__ss);
    out->fp = CG_FP(uc->uc_mcontext->__ss);
    out->lr = CG_LR(uc->uc_mcontext->__ss);
}

uint32_t cg_ctx_regs(const void *uctx, uint64_t *regs) {
    const ucontext_t *uc = (const ucontext_t *)uctx;
    uint32_t n = 0;
    for (int i = 0; i < 29; i++)
        regs[n++] = uc->uc_mcontext->__ss.__x[i];
    regs[n++] = CG_FP(uc->uc_mcontext->__ss);
    regs[n++] = CG_LR(uc->uc_mcontext->__ss);
    regs[n++] = CG_SP(uc->uc_mcontext->__ss);
    regs[n++] = CG_PC(uc->uc_mcontext->__ss);
    regs[n++] = uc->uc_mcontext->__ss.__cpsr;
    return n;
}
