//go:build cgo && (linux || darwin)

/*
 * cg_unwind.c: the frame walk.
 *
 * Every stack read goes through cg_safe_read (Linux process_vm_readv on
 * ourselves, darwin mach_vm_read_overwrite), so a corrupt frame chain ends
 * the walk instead of faulting inside the handler.
 *
 * 1. Call frame information (.eh_frame, cg_cfi.c), from the fault's
 *    registers for as long as the code has it: exact for code built without
 *    frame pointers (glibc's abort -> raise -> pthread_kill on x86-64 keeps
 *    data in rbp), where the chain below would skip callers or follow
 *    garbage. Go code has none; the walk goes on from there with:
 * 2. Frame pointers. The walk stops when the frame pointer is zero,
 *    misaligned, outside [sp, sp + 64 MiB), or stops increasing (stacks grow
 *    down, so callers' frames are at higher addresses; a chain that goes
 *    back down is corrupt or has crossed onto another stack, e.g. from a cgo
 *    call's system stack to the goroutine's), and, when the code ranges of
 *    the loaded images are known, at a "return address" that is not in code:
 *    code built without frame pointers uses the register for data, and a
 *    garbage frame is worse than none.
 * 3. Stack scan, only when neither gave a caller at all (code without CFI
 *    nor frame pointers, e.g. musl). Words of the 2 KiB above sp that point
 *    into code right after a call instruction are taken as return
 *    addresses, as Breakpad's stack scanner does, with two checks against
 *    stale ones: a direct call (through its PLT stub) must go into the
 *    image of the frame it returns from, and the scan ends at the first
 *    frame record (two valid links), from which the frame-pointer chain
 *    goes on. They may still include stale ones, so the record says
 *    CG_FLAG_FRAMES_SCANNED.
 */
#include "cg_recorder.h"

#include <string.h>

#include "cg_cfi.h"

/* Frames further than this above the fault's sp are not on its stack. */
#define CG_MAX_STACK_SPAN ((uint64_t)64 << 20)
/* Stack bytes fetched per read: frames are usually close together, so one
 * read (one system call) serves several. Never crosses a 4 KiB boundary, so
 * it fails only when the frame itself is unreadable. */
#define CG_CHUNK 256u
/* Stack scan bounds. */
#define CG_SCAN_BYTES 2048u
#define CG_SCAN_MAX_FRAMES 16u

uint64_t cg_strip_pc(uint64_t pc) {
#if defined(__APPLE__) && (defined(__aarch64__) || defined(__arm64__))
    /* macOS arm64 user space is 47 bits (xnu osfmk/mach/arm/vm_param.h
     * MACH_VM_MAX_ADDRESS_RAW 0x00007FFFFE000000, T0SZ_BOOT 17): the PAC
     * field starts at bit 47. A plain arm64 process calls arm64e system
     * libraries whose saved return addresses are signed, and keeping bit 47
     * fails half of them the code-address check (KSCrash commit 350d9055). */
    return pc & 0x00007fffffffffffull;
#elif defined(__aarch64__) || defined(__arm64__)
    /* Linux arm64: 48-bit user addresses (default VA size); the bits above
     * carry tags (TBI) or PAC in saved return addresses. */
    return pc & 0x0000ffffffffffffull;
#else
    return pc;
#endif
}

/* ---- Code ranges ---- */

#define CG_MAX_CODE_RANGES 1024
static struct {
    uint64_t lo, hi;
    _Atomic int valid;
} g_code[CG_MAX_CODE_RANGES];
static _Atomic uint32_t g_ncode;

void cg_code_range_add(uint64_t lo, uint64_t hi) {
    if (hi <= lo)
        return;
    uint32_t n = atomic_load(&g_ncode);
    if (n > CG_MAX_CODE_RANGES)
        n = CG_MAX_CODE_RANGES;
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&g_code[i].valid, memory_order_acquire) && g_code[i].lo == lo &&
            g_code[i].hi == hi)
            return;
    uint32_t i = atomic_fetch_add(&g_ncode, 1);
    if (i >= CG_MAX_CODE_RANGES)
        return;
    g_code[i].lo = lo;
    g_code[i].hi = hi;
    atomic_store_explicit(&g_code[i].valid, 1, memory_order_release);
}

int cg_code_addr(uint64_t a) {
    uint32_t n = atomic_load_explicit(&g_ncode, memory_order_acquire);
    if (n == 0)
        return -1;
    if (n > CG_MAX_CODE_RANGES)
        n = CG_MAX_CODE_RANGES;
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&g_code[i].valid, memory_order_acquire) && a >= g_code[i].lo &&
            a < g_code[i].hi)
            return 1;
    return 0;
}

/* Is the instruction before ret a call? Reads the code through
 * cg_safe_read (it may be unmapped since). */
static int after_call(uint64_t ret) {
#if defined(__x86_64__)
    uint8_t b[8];
    if (ret < 8 || cg_safe_read(b, ret - 8, 8) != 0)
        return 0;
    /* call rel32: E8 xx xx xx xx */
    if (b[3] == 0xe8)
        return 1;
    /* call r/m64: FF /2, 2 bytes (register / [reg]), 3 (disp8 or SIB),
     * 6 (disp32, rip-relative), 7 (SIB + disp32); a REX prefix precedes
     * the FF and does not matter here. */
    static const int at[] = {6, 5, 2, 1};
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++)
        if (b[at[i]] == 0xff && (b[at[i] + 1] & 0x38) == 0x10)
            return 1;
    return 0;
#elif defined(__aarch64__) || defined(__arm64__)
    uint32_t ins;
    if (ret < 4 || (ret & 3) != 0 || cg_safe_read(&ins, ret - 4, 4) != 0)
        return 0;
    return (ins & 0xfc000000u) == 0x94000000u    /* BL */
           || (ins & 0xfffffc1fu) == 0xd63f0000u /* BLR */
           || (ins & 0xfefff800u) == 0xd63f0800u; /* BLRAA/BLRAB/BLRAAZ/BLRABZ */
#else
    (void)ret;
    return 1;
#endif
}

/* Bytes to read at a: CG_CHUNK, cut at the next 4 KiB boundary. */
static uint64_t chunk_len(uint64_t a) {
    uint64_t page_end = (a | 4095u) + 1;
    return page_end - a < CG_CHUNK ? page_end - a : CG_CHUNK;
}

static int seen(const uint64_t *frames, uint32_t n, uint64_t v) {
    for (uint32_t i = 0; i < n; i++)
        if (frames[i] == v)
            return 1;
    return 0;
}

/* The image (index in the recorder's table) holding a; -1 when none is
 * known to. */
static int image_of(uint64_t a) {
    cg_recorder *rec = cg_recorder_get();
    if (rec == NULL || a == 0)
        return -1;
    uint32_t n = atomic_load_explicit(&rec->hdr->image_count, memory_order_acquire);
    if (n > rec->image_capacity)
        n = rec->image_capacity;
    for (uint32_t i = 0; i < n; i++) {
        const cg_image *im = &rec->images[i];
        if (atomic_load_explicit(&im->state, memory_order_acquire) == CG_STATE_COMPLETE &&
            a >= im->base && a - im->base < im->size)
            return (int)i;
    }
    return -1;
}

/* The function the direct call before ret calls, through its PLT stub when
 * it is one; 0 when unknown (an indirect call, a lazy stub not yet bound,
 * other architectures). */
static uint64_t call_target(uint64_t ret) {
#if defined(__x86_64__)
    uint8_t b[5];
    if (ret < 5 || cg_safe_read(b, ret - 5, 5) != 0 || b[0] != 0xe8)
        return 0;
    int32_t rel;
    memcpy(&rel, b + 1, 4);
    uint64_t t = ret + (uint64_t)(int64_t)rel;
    /* PLT stubs: jmp *slot(%rip) (ff 25), bnd jmp (f2 ff 25), either after
     * endbr64 (f3 0f 1e fa). */
    uint8_t s[11];
    if (cg_safe_read(s, t, sizeof s) != 0)
        return t;
    static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
    unsigned at = memcmp(s, endbr64, 4) == 0 ? 4 : 0;
    if (s[at] == 0xf2)
        at++;
    if (at + 6 > sizeof s || s[at] != 0xff || s[at + 1] != 0x25)
        return t;
    int32_t disp;
    memcpy(&disp, s + at + 2, 4);
    uint64_t slot = t + at + 6 + (uint64_t)(int64_t)disp, g;
    if (cg_safe_read(&g, slot, 8) != 0 || cg_code_addr(g) != 1)
        return 0;
    /* A lazy slot points back into the stub's own image. */
    return image_of(g) == image_of(t) ? 0 : g;
#else
    (void)ret;
    return 0;
#endif
}

/* Reads the 16 bytes of a frame record at a; 0 or -1. */
static int read_record(uint64_t a, uint64_t pair[2]) { return cg_safe_read(pair, a, 16); }

/* Is a the frame record of a function that called (so [a+8] is a return
 * address after a call), pointing at another such record above it? Two
 * links, because a callee-saved rbp pushed next to a return address looks
 * like one record, and stale pairs in uninitialised locals rarely make two. */
static int frame_record(uint64_t a, uint64_t hi) {
    uint64_t p[2], q[2];
    if ((a & 7) != 0 || read_record(a, p) != 0)
        return 0;
    uint64_t next = p[0], ret = cg_strip_pc(p[1]);
    if ((next & 7) != 0 || next <= a || next > hi - 16 || cg_code_addr(ret) != 1 || !after_call(ret))
        return 0;
    if (read_record(next, q) != 0)
        return 0;
    uint64_t ret2 = cg_strip_pc(q[1]);
    return cg_code_addr(ret2) == 1 && after_call(ret2);
}

/* The stack scan, for code with neither CFI nor frame pointers: words above
 * sp that point into code right after a call. A candidate is dropped when
 * its call (through a PLT stub) goes into another image than the frame it
 * would return from (a stale return address of other code), and the scan
 * ends at the first frame record (frame_record), where the frame-pointer
 * chain takes over with exact frames: *anchor gets its address, or 0. */
static uint32_t scan(uint64_t sp, uint64_t hi, uint64_t *frames, uint32_t n, uint32_t max,
                     uint32_t *flags, uint64_t *anchor) {
    uint8_t buf[CG_CHUNK];
    uint32_t added = 0;
    uint64_t cur = (sp + 7) & ~(uint64_t)7;
    uint64_t end = cur + CG_SCAN_BYTES;
    uint64_t inner = frames[n - 1]; /* the frame a candidate returns from */
    *anchor = 0;
    while (cur < end && added < CG_SCAN_MAX_FRAMES) {
        uint64_t len = chunk_len(cur);
        if (cg_safe_read(buf, cur, (size_t)len) != 0)
            break;
        for (uint64_t off = 0; off + 8 <= len && added < CG_SCAN_MAX_FRAMES; off += 8) {
            uint64_t w;
            memcpy(&w, buf + off, 8);
            if (w > cur + off && w <= hi - 16 && frame_record(cur + off, hi)) {
                *anchor = cur + off;
                return n;
            }
            w = cg_strip_pc(w);
            if (cg_code_addr(w) != 1 || seen(frames, n, w) || !after_call(w))
                continue;
            uint64_t t = call_target(w);
            int ti = image_of(t), ii = image_of(inner);
            if (t != 0 && ti >= 0 && ii >= 0 && ti != ii)
                continue;
            if (n == max) {
                *flags |= CG_FLAG_FRAMES_TRUNCATED;
                return n;
            }
            frames[n++] = w;
            inner = w;
            added++;
            *flags |= CG_FLAG_FRAMES_SCANNED;
        }
        cur += len;
    }
    return n;
}

/* The frame-pointer chain from the record at cur, within [lo, hi). skip:
 * a return address not to repeat if the first record holds it (the lr
 * already taken), or 0. Adds to *chained the frames it found. */
static uint32_t fp_chain(uint64_t cur, uint64_t lo, uint64_t hi, int validate, uint64_t skip,
                         uint64_t *frames, uint32_t n, uint32_t max, uint32_t *flags,
                         uint32_t *chained) {
    uint8_t buf[CG_CHUNK];
    uint64_t buf_lo = 0, buf_len = 0;
    int first = 1;
    for (;;) {
        if (cur == 0 || (cur & 7) != 0 || cur < lo || cur > hi - 16)
            break;
        if (!(buf_len >= 16 && cur >= buf_lo && cur - buf_lo <= buf_len - 16)) {
            uint64_t len = chunk_len(cur);
            if (len < 16)
                len = 16;
            if (cg_safe_read(buf, cur, (size_t)len) != 0)
                break;
            buf_lo = cur;
            buf_len = len;
        }
        uint64_t pair[2];
        memcpy(pair, buf + (cur - buf_lo), sizeof pair);
        uint64_t next = pair[0];
        uint64_t ret = cg_strip_pc(pair[1]);
        if (ret == 0 || (validate && cg_code_addr(ret) != 1))
            break;
        if (!(first && skip != 0 && ret == skip)) {
            if (n == max) {
                *flags |= CG_FLAG_FRAMES_TRUNCATED;
                break;
            }
            frames[n++] = ret;
            (*chained)++;
        }
        first = 0;
        if (next <= cur)
            break;
        cur = next;
    }
    return n;
}

/* May a CFI step leave sp where it was? Only for the first frame on arm64:
 * a leaf that allocated no stack has its caller's sp (its return address
 * is in lr). On x86-64 the CFA is always above sp (the call pushed the
 * return address): equality there is bad CFI. */
static int stackless_leaf(uint32_t cfi_frames) {
#if defined(__aarch64__)
    return cfi_frames == 0;
#else
    (void)cfi_frames;
    return 0;
#endif
}

/* Is lr a return site inside the function that holds pc? Decided from the
 * function's extent in its FDE (.eh_frame, which GCC and clang emit by
 * default on Linux arm64, glibc included), as libunwind decides where the
 * return address is from the CFI: a return site in the same function means
 * the function has made a call, so it saved the real lr in its frame record.
 * The call instruction (lr - 1) is tested: a call to a noreturn function
 * last in the caller returns to the next function's first byte. Unknown
 * (code without CFI, e.g. Go's, or no image table): no, and lr is taken as
 * before. */
static int lr_in_faulting_function(uint64_t pc, uint64_t lr) {
    cg_cfi_cache cache = {0, 0, 0, 0, 0};
    uint64_t lo, hi;
    if (lr == 0 || cg_cfi_func_range(&cache, pc, &lo, &hi) != 1)
        return 0;
    return lr - 1 >= lo && lr - 1 < hi;
}

uint32_t cg_unwind(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t *frames,
                   uint32_t max, uint32_t opts, uint32_t *flags) {
    uint32_t n = 0;
    *flags = 0;
    if (max == 0)
        return 0;
    frames[n++] = cg_strip_pc(pc);
    int validate = (opts & CG_UNWIND_VALIDATE) != 0 && cg_code_addr(0) != -1;

    uint64_t lo = sp;
    uint64_t hi = sp + CG_MAX_STACK_SPAN;
    if (hi < sp)
        hi = UINT64_MAX;
    uint64_t cur = fp;
    uint32_t chained = 0;

    /* 1. CFI, while the code has it. */
    uint32_t cfi_frames = 0;
    if (validate) {
        cg_cfi_cache cache = {0, 0, 0, 0, 0};
        cg_cfi_frame f = {cg_strip_pc(pc), sp, fp, cg_strip_pc(lr)};
        for (;;) {
            cg_cfi_frame next;
            int r = cg_cfi_step(&cache, &f, cfi_frames == 0, &next);
            if (r == CG_CFI_END)
                return n;
            if (r != 1)
                break;
            /* The caller's frame is above this one, on this stack, and
             * returns into code. */
            if (next.sp < f.sp || (next.sp == f.sp && !stackless_leaf(cfi_frames)) || next.sp > hi ||
                cg_code_addr(next.pc) != 1)
                break;
            if (n == max) {
                *flags |= CG_FLAG_FRAMES_TRUNCATED;
                return n;
            }
            frames[n++] = next.pc;
            cfi_frames++;
            f = next;
        }
        if (cfi_frames > 0) {
            /* No CFI for the next frame (Go code, an image without
             * .eh_frame_hdr) or CFI that cannot be followed: the frame
             * pointer chain goes on from the frame CFI reached. */
            chained = cfi_frames;
            lo = f.sp;
            cur = f.fp;
        }
    }

    /* arm64: a leaf function has not saved lr yet, so its caller is only
     * in lr. If the function did save it, the first frame record holds the
     * same value and is skipped below. Once it has made a call, lr is that
     * call's return site, in the faulting function itself, and the caller is
     * in the frame record: lr is not a frame then (it made every arm64 stack
     * read f, f, caller). */
    uint64_t lr_s = cg_strip_pc(lr);
    int lr_pushed = 0;
    if (cfi_frames == 0 && lr_s != 0 && (!validate || cg_code_addr(lr_s) == 1) &&
        !lr_in_faulting_function(frames[0], lr_s)) {
        if (n == max) {
            *flags |= CG_FLAG_FRAMES_TRUNCATED;
            return n;
        }
        frames[n++] = lr_s;
        lr_pushed = 1;
    }

    /* 2. Frame pointers. */
    n = fp_chain(cur, lo, hi, validate, lr_pushed ? lr_s : 0, frames, n, max, flags, &chained);

    /* 3. Stack scan, up to a frame record, and the chain from there. */
    if (validate && chained == 0 && !lr_pushed && n < max) {
        uint64_t anchor;
        n = scan(sp, hi, frames, n, max, flags, &anchor);
        if (anchor != 0 && n < max)
            n = fp_chain(anchor, anchor, hi, validate, 0, frames, n, max, flags, &chained);
    }
    return n;
}
