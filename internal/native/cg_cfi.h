/*
 * cg_cfi.h: one step of a call frame information (.eh_frame) unwind, for the
 * frame walk (cg_unwind.c). See cg_cfi.c.
 */
#ifndef CG_CFI_H
#define CG_CFI_H

#include <stdint.h>

/* The registers a step needs and produces. */
typedef struct cg_cfi_frame {
    /* lr: arm64's link register in the frame a walk starts from (a leaf's
     * return address), 0 elsewhere and on x86-64. */
    uint64_t pc, sp, fp, lr;
} cg_cfi_frame;

/* The image of the last lookup, kept for the length of one walk (the frames
 * of a walk are mostly in a few images). Zero it before the first step. */
typedef struct cg_cfi_cache {
    uint64_t img_lo, img_hi;
    uint64_t hdr;       /* its .eh_frame_hdr, 0 if none */
    uint64_t count_hdr; /* the .eh_frame_hdr count is of */
    uint32_t count;     /* entries in its search table */
} cg_cfi_cache;

/* cg_cfi_step returns this for the outermost frame (return address
 * undefined or zero): the walk is over. */
#define CG_CFI_END 2

/* Unwinds one frame: from the registers of a frame (in; top: in->pc is the
 * faulting or current pc rather than a return address) to its caller's (out:
 * pc = the return address). Returns 1 on success, CG_CFI_END for the
 * outermost frame, 0 when there is no CFI for in->pc (no image, no
 * .eh_frame_hdr, no FDE covers it: frame pointers are all there is), -1 when
 * there is CFI but it cannot be followed (an expression, an unreadable
 * stack). Async-signal-safe; reads only through cg_safe_read. */
int cg_cfi_step(cg_cfi_cache *cache, const cg_cfi_frame *in, int top, cg_cfi_frame *out);

/* The function holding pc as its FDE gives it, [*lo, *hi): 1, or 0 when no
 * FDE covers pc. Linux x86-64 and arm64 (where the walk uses it to tell
 * whether lr is the caller); 0 elsewhere. Async-signal-safe, as above. */
int cg_cfi_func_range(cg_cfi_cache *cache, uint64_t pc, uint64_t *lo, uint64_t *hi);

#endif /* CG_CFI_H */
