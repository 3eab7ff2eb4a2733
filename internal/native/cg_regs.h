/*
 * cg_regs.h: the fault context (ucontext) as flightrec registers.
 *
 * One implementation per OS/arch (cg_regs_<os>_<arch>.c). The register
 * order is flightrec.RegisterNames: the order of the darwin thread state
 * structs, so that the Mach thread (thread state) and the signal handler
 * (ucontext) write the same thing.
 */
#ifndef CG_REGS_H
#define CG_REGS_H

#include <stdint.h>

typedef struct cg_ctx {
    uint64_t pc, sp, fp, lr; /* lr is 0 on amd64 */
} cg_ctx;

/* Reads pc, sp, fp (and lr) from a signal handler's ucontext. */
void cg_ctx_basic(const void *uctx, cg_ctx *out);
/* Writes the registers in flightrec order into regs (CG_MAX_REGS words);
 * returns how many (21 amd64, 34 arm64). */
uint32_t cg_ctx_regs(const void *uctx, uint64_t *regs);

#endif
