//go:build cgo && (linux || darwin)

/*
 * cg_cfi.c: one step of a call frame information unwind (.eh_frame), for the
 * frames the frame-pointer chain cannot see: code built without frame
 * pointers keeps the caller's frame pointer somewhere in its own frame (or
 * not at all) and uses the register for data, as glibc's abort -> raise ->
 * pthread_kill does on x86-64. The stack scan that used to stand in for it
 * picks stale return addresses left in those functions' uninitialised
 * locals (on a cgo call's system stack, the runtime's own), where the CFI
 * says exactly where the return address and the saved frame pointer are.
 * This is what libunwind, libgcc's unwinder and Crashpad's client do.
 *
 * Crash-path rules: no malloc, no lock, no stdio; every read (the image's
 * ELF and program headers, .eh_frame_hdr, the FDE and CIE, the stack) goes
 * through cg_safe_read, so a damaged or unmapped table ends the step instead
 * of faulting. The image of a pc is found in the recorder's image table
 * (filled at install time from dl_iterate_phdr); its .eh_frame_hdr binary
 * search table gives the FDE in O(log n) reads. Only the common encodings
 * are accepted (what GNU ld, gold, lld and mold write); anything else is
 * "no CFI" and the caller falls back to frame pointers.
 *
 * The step runs on Linux x86-64 and arm64, where C built with -O2 (the
 * system's C library on x86-64, any C built with -fomit-frame-pointer)
 * keeps no frame records. On arm64 a leaf's return address is still in lr
 * (its CFI rule is "same value"), known only in the frame a walk starts
 * from. darwin requires frame pointers (Apple's ABI). Elsewhere nothing is
 * found.
 */
#include "cg_recorder.h"

#include <string.h>

#include "cg_cfi.h"

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

#include <elf.h>

/* DWARF register numbers. */
#if defined(__x86_64__)
#define CFI_REG_FP 6u /* rbp */
#define CFI_REG_SP 7u /* rsp */
#else             /* __aarch64__ (DWARF for the Arm 64-bit Architecture) */
#define CFI_REG_FP 29u /* x29 */
#define CFI_REG_SP 31u /* sp */
#endif

/* A CIE longer than this is not believed. An FDE's instructions past this
 * are not read: a row beyond them is "cannot follow". */
#define CFI_MAX_CIE 256u
#define CFI_MAX_FDE 1024u
/* Program headers: at most this many, read this many at a time. */
#define CFI_MAX_PHDRS 256u
#define CFI_PHDR_CHUNK 8u
#define CFI_STATE_STACK 8

/* DW_EH_PE_* */
#define PE_OMIT 0xffu
#define PE_ABSPTR 0x00u
#define PE_ULEB128 0x01u
#define PE_UDATA2 0x02u
#define PE_UDATA4 0x03u
#define PE_UDATA8 0x04u
#define PE_SLEB128 0x09u
#define PE_SDATA2 0x0au
#define PE_SDATA4 0x0bu
#define PE_SDATA8 0x0cu
#define PE_PCREL 0x10u
#define PE_DATAREL 0x30u
#define PE_INDIRECT 0x80u

/* ---- Bounded readers over a local copy ---- */

typedef struct {
    const uint8_t *p, *end;
    uint64_t addr; /* process address of p */
    int bad;
} cur_t;

static void cur_skip(cur_t *c, uint64_t n) {
    if (c->bad || n > (uint64_t)(c->end - c->p)) {
        c->bad = 1;
        c->p = c->end;
        return;
    }
    c->p += n;
    c->addr += n;
}

static uint64_t cur_fixed(cur_t *c, unsigned n) {
    uint64_t v = 0;
    if (c->bad || (uint64_t)(c->end - c->p) < n) {
        c->bad = 1;
        c->p = c->end;
        return 0;
    }
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)c->p[i] << (8 * i); /* little-endian on both arches */
    cur_skip(c, n);
    return v;
}

static uint64_t cur_uleb(cur_t *c) {
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (c->bad || c->p >= c->end) {
            c->bad = 1;
            return 0;
        }
        uint8_t b = *c->p;
        cur_skip(c, 1);
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0)
            return v;
    }
}

static int64_t cur_sleb(cur_t *c) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (c->bad || c->p >= c->end) {
            c->bad = 1;
            return 0;
        }
        b = *c->p;
        cur_skip(c, 1);
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

/* Reads a DW_EH_PE-encoded pointer. Only absptr and pcrel applications
 * (datarel when datarel_base != 0), never indirect. */
static uint64_t cur_enc(cur_t *c, uint8_t enc, uint64_t datarel_base) {
    if (enc == PE_OMIT || (enc & PE_INDIRECT)) {
        c->bad = 1;
        return 0;
    }
    uint64_t at = c->addr;
    uint64_t v;
    switch (enc & 0x0fu) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        v = cur_fixed(c, 8);
        break;
    case PE_UDATA2:
        v = cur_fixed(c, 2);
        break;
    case PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)cur_fixed(c, 2);
        break;
    case PE_UDATA4:
        v = cur_fixed(c, 4);
        break;
    case PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)cur_fixed(c, 4);
        break;
    case PE_ULEB128:
        v = cur_uleb(c);
        break;
    case PE_SLEB128:
        v = (uint64_t)cur_sleb(c);
        break;
    default:
        c->bad = 1;
        return 0;
    }
    switch (enc & 0x70u) {
    case 0:
        return v;
    case PE_PCREL:
        return v + at;
    case PE_DATAREL:
        if (datarel_base == 0)
            break;
        return v + datarel_base;
    default:
        break;
    }
    c->bad = 1;
    return 0;
}

/* ---- Finding the FDE ---- */

/* The .eh_frame_hdr of the image holding pc, through the cache of the walk.
 * 0 when unknown. */
__attribute__((noinline)) static uint64_t eh_frame_hdr_for(cg_cfi_cache *cache, uint64_t pc) {
    if (cache->img_hi > cache->img_lo && pc >= cache->img_lo && pc < cache->img_hi)
        return cache->hdr;
    cg_recorder *rec = cg_recorder_get();
    if (rec == NULL)
        return 0;
    uint32_t n = atomic_load_explicit(&rec->hdr->image_count, memory_order_acquire);
    if (n > rec->image_capacity)
        n = rec->image_capacity;
    const cg_image *im = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const cg_image *c = &rec->images[i];
        if (atomic_load_explicit(&c->state, memory_order_acquire) == CG_STATE_COMPLETE &&
            c->type == CG_IMAGE_ELF && pc >= c->base && pc - c->base < c->size) {
            im = c;
            break;
        }
    }
    if (im == NULL)
        return 0;
    cache->img_lo = im->base;
    cache->img_hi = im->base + im->size;
    cache->hdr = 0;
    /* The ELF header and program headers are in the first PT_LOAD segment,
     * mapped at base (the image's lowest page). */
    uint64_t bias = im->base - im->vmaddr;
    Elf64_Ehdr eh;
    if (cg_safe_read(&eh, im->base, sizeof eh) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum > CFI_MAX_PHDRS || eh.e_phoff >= im->size)
        return 0;
    Elf64_Phdr ph[CFI_PHDR_CHUNK];
    for (unsigned i = 0; i < eh.e_phnum; i += CFI_PHDR_CHUNK) {
        unsigned k = eh.e_phnum - i < CFI_PHDR_CHUNK ? eh.e_phnum - i : CFI_PHDR_CHUNK;
        if (cg_safe_read(ph, im->base + eh.e_phoff + (uint64_t)i * sizeof ph[0],
                         (size_t)k * sizeof ph[0]) != 0)
            return 0;
        for (unsigned j = 0; j < k; j++)
            if (ph[j].p_type == PT_GNU_EH_FRAME && ph[j].p_vaddr + bias >= im->base &&
                ph[j].p_vaddr + bias - im->base < im->size) {
                cache->hdr = ph[j].p_vaddr + bias;
                return cache->hdr;
            }
    }
    return 0;
}

/* Entries of the search table read at once when few are left. */
#define CFI_TABLE_WINDOW 32u

/* The number of entries of the .eh_frame_hdr binary search table at hdr,
 * through the cache; 0 when it has none or not in the form every linker
 * writes (version 1; eh_frame_ptr pcrel|sdata4; fde_count udata4; table
 * datarel|sdata4). */
static uint32_t table_count(cg_cfi_cache *cache, uint64_t hdr) {
    if (cache->count_hdr == hdr)
        return cache->count;
    uint8_t h[12];
    uint32_t count = 0;
    if (cg_safe_read(h, hdr, sizeof h) == 0 && h[0] == 1 && h[1] == (PE_PCREL | PE_SDATA4) &&
        h[2] == PE_UDATA4 && h[3] == (PE_DATAREL | PE_SDATA4)) {
        memcpy(&count, h + 8, 4);
        if (count > (1u << 24))
            count = 0;
    }
    cache->count_hdr = hdr;
    cache->count = count;
    return count;
}

/* The FDE with the largest initial location <= pc, from the binary search
 * table: one read per halving, then the last few entries in one read. 0 if
 * none. */
static uint64_t find_fde(cg_cfi_cache *cache, uint64_t hdr, uint64_t pc) {
    uint32_t count = table_count(cache, hdr);
    if (count == 0)
        return 0;
    uint64_t table = hdr + 12;
    /* Invariant: entries below lo start <= pc, entries from hi on > pc. */
    uint32_t lo = 0, hi = count;
    int32_t found_fde = 0;
    int found = 0;
    while (hi - lo > CFI_TABLE_WINDOW) {
        uint32_t mid = lo + (hi - lo) / 2;
        int32_t e[2];
        if (cg_safe_read(e, table + (uint64_t)mid * 8, 8) != 0)
            return 0;
        if (hdr + (uint64_t)(int64_t)e[0] <= pc) {
            found = 1;
            found_fde = e[1];
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (hi > lo) {
        int32_t w[2 * CFI_TABLE_WINDOW];
        if (cg_safe_read(w, table + (uint64_t)lo * 8, (size_t)(hi - lo) * 8) != 0)
            return 0;
        for (uint32_t i = 0; i < hi - lo && hdr + (uint64_t)(int64_t)w[2 * i] <= pc; i++) {
            found = 1;
            found_fde = w[2 * i + 1];
        }
    }
    if (!found)
        return 0;
    return hdr + (uint64_t)(int64_t)found_fde;
}

/* Reads the CIE or FDE at a: its length word and as much of the entry as
 * fits in max bytes (the first read takes CFI_ENTRY_FIRST bytes, which hold
 * most entries whole, without crossing a page). *len gets the entry's
 * length (after the length word), *got the bytes read into buf (from a + 4).
 * Returns 0, or -1 when unreadable or a 64-bit / zero length entry. */
#define CFI_ENTRY_FIRST 128u
static int read_entry(uint64_t a, uint8_t *buf, uint32_t max, uint32_t *len, uint32_t *got) {
    uint8_t first[CFI_ENTRY_FIRST];
    uint64_t n = ((a | 4095u) + 1) - a;
    if (n > CFI_ENTRY_FIRST)
        n = CFI_ENTRY_FIRST;
    if (n < 4)
        n = 4; /* the length word itself crosses the page */
    if (cg_safe_read(first, a, (size_t)n) != 0)
        return -1;
    uint32_t l;
    memcpy(&l, first, 4);
    if (l == 0 || l == 0xffffffffu)
        return -1;
    uint32_t want = l < max ? l : max;
    uint32_t have = (uint32_t)n - 4 < want ? (uint32_t)n - 4 : want;
    memcpy(buf, first + 4, have);
    if (have < want && cg_safe_read(buf + have, a + 4 + have, want - have) != 0)
        return -1;
    *len = l;
    *got = want;
    return 0;
}

/* ---- The CFA program ---- */

#define RULE_SAME 0      /* unchanged (also: not mentioned) */
#define RULE_UNDEFINED 1 /* no value: for the return address, the outermost frame */
#define RULE_OFFSET 2    /* saved at CFA + off */
#define RULE_VAL_OFFSET 3
#define RULE_REGISTER 4 /* in register off */
#define RULE_UNSUPPORTED 5

typedef struct {
    uint8_t how;
    int64_t off;
} rule_t;

typedef struct {
    uint32_t cfa_reg;
    int64_t cfa_off;
    int cfa_unsupported;
    rule_t fp, ra;
} row_t;

typedef struct {
    uint64_t code_align;
    int64_t data_align;
    uint32_t ra_reg;
    uint8_t fde_enc;
    int has_aug_data;
} cie_t;

static rule_t *rule_for(row_t *row, uint64_t reg, uint32_t ra_reg) {
    if (reg == CFI_REG_FP)
        return &row->fp;
    if (reg == ra_reg)
        return &row->ra;
    return NULL;
}

/* Sets reg's rule, when reg is one the walk tracks (the frame pointer, the
 * return address); the others' rules are read and dropped. */
static void set_rule(row_t *row, uint64_t reg, uint32_t ra_reg, uint8_t how, int64_t off) {
    rule_t *r = rule_for(row, reg, ra_reg);
    if (r != NULL) {
        r->how = how;
        r->off = off;
    }
}

/* Runs instructions until the row for target is reached (the CIE's initial
 * instructions: all of them, is_cie). loc starts at the FDE's initial
 * location. Returns 1 when it stopped at the row for target, 0 when the
 * instructions ran out first (the last row holds), -1 for a program it
 * cannot follow. */
static int run_cfa(cur_t *c, const cie_t *cie, row_t *row, const row_t *initial, uint64_t loc,
                   uint64_t target, int is_cie) {
    row_t stack[CFI_STATE_STACK];
    int depth = 0;
    while (c->p < c->end && !c->bad) {
        uint8_t op = (uint8_t)cur_fixed(c, 1);
        uint8_t hi2 = op & 0xc0u, low6 = op & 0x3fu;
        uint64_t reg, delta = 0;
        int advance = 0;
        rule_t *r;
        if (hi2 == 0x40) { /* DW_CFA_advance_loc */
            delta = low6;
            advance = 1;
        } else if (hi2 == 0x80) { /* DW_CFA_offset */
            int64_t off = (int64_t)cur_uleb(c) * cie->data_align;
            set_rule(row, low6, cie->ra_reg, RULE_OFFSET, off);
        } else if (hi2 == 0xc0) { /* DW_CFA_restore */
            if (is_cie)
                return -1;
            if ((r = rule_for(row, low6, cie->ra_reg)) != NULL)
                *r = *rule_for((row_t *)initial, low6, cie->ra_reg);
        } else {
            switch (op) {
            case 0x00: /* nop */
                break;
            case 0x01: /* set_loc */
            {
                uint64_t nl = cur_enc(c, cie->fde_enc, 0);
                if (nl < loc)
                    return -1;
                delta = (nl - loc) / (cie->code_align ? cie->code_align : 1);
                advance = 1;
                break;
            }
            case 0x02: /* advance_loc1 */
                delta = cur_fixed(c, 1);
                advance = 1;
                break;
            case 0x03: /* advance_loc2 */
                delta = cur_fixed(c, 2);
                advance = 1;
                break;
            case 0x04: /* advance_loc4 */
                delta = cur_fixed(c, 4);
                advance = 1;
                break;
            case 0x05: /* offset_extended */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_OFFSET, (int64_t)cur_uleb(c) * cie->data_align);
                break;
            case 0x06: /* restore_extended */
                reg = cur_uleb(c);
                if (is_cie)
                    return -1;
                if ((r = rule_for(row, reg, cie->ra_reg)) != NULL)
                    *r = *rule_for((row_t *)initial, reg, cie->ra_reg);
                break;
            case 0x07: /* undefined */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_UNDEFINED, 0);
                break;
            case 0x08: /* same_value */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_SAME, 0);
                break;
            case 0x09: /* register */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_REGISTER, (int64_t)cur_uleb(c));
                break;
            case 0x0a: /* remember_state */
                if (depth == CFI_STATE_STACK)
                    return -1;
                stack[depth++] = *row;
                break;
            case 0x0b: /* restore_state */
                if (depth == 0)
                    return -1;
                *row = stack[--depth];
                break;
            case 0x0c: /* def_cfa */
                row->cfa_reg = (uint32_t)cur_uleb(c);
                row->cfa_off = (int64_t)cur_uleb(c);
                row->cfa_unsupported = 0;
                break;
            case 0x0d: /* def_cfa_register */
                row->cfa_reg = (uint32_t)cur_uleb(c);
                break;
            case 0x0e: /* def_cfa_offset */
                row->cfa_off = (int64_t)cur_uleb(c);
                break;
            case 0x0f: /* def_cfa_expression */
                cur_skip(c, cur_uleb(c));
                row->cfa_unsupported = 1;
                break;
            case 0x10: /* expression */
            case 0x16: /* val_expression */
                reg = cur_uleb(c);
                cur_skip(c, cur_uleb(c));
                set_rule(row, reg, cie->ra_reg, RULE_UNSUPPORTED, 0);
                break;
            case 0x11: /* offset_extended_sf */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_OFFSET, cur_sleb(c) * cie->data_align);
                break;
            case 0x12: /* def_cfa_sf */
                row->cfa_reg = (uint32_t)cur_uleb(c);
                row->cfa_off = cur_sleb(c) * cie->data_align;
                row->cfa_unsupported = 0;
                break;
            case 0x13: /* def_cfa_offset_sf */
                row->cfa_off = cur_sleb(c) * cie->data_align;
                break;
            case 0x14: /* val_offset */
            case 0x15: /* val_offset_sf */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_VAL_OFFSET,
                         op == 0x14 ? (int64_t)cur_uleb(c) * cie->data_align : cur_sleb(c) * cie->data_align);
                break;
#if defined(__aarch64__)
            case 0x2d: /* AARCH64_negate_ra_state: lr is signed (PAC) from
                        * here on; what is read is stripped (cg_strip_pc) */
                break;
#endif
            case 0x2e: /* GNU_args_size */
                (void)cur_uleb(c);
                break;
            case 0x2f: /* GNU_negative_offset_extended */
                reg = cur_uleb(c);
                set_rule(row, reg, cie->ra_reg, RULE_OFFSET, -(int64_t)cur_uleb(c) * cie->data_align);
                break;
            default:
                return -1;
            }
        }
        if (advance) {
            if (is_cie)
                return -1;
            uint64_t next = loc + delta * cie->code_align;
            if (next > target)
                return 1; /* the current row covers target */
            loc = next;
        }
    }
    return c->bad ? -1 : 0;
}

/* Reads the CIE at addr into buf and parses its header. Leaves c at its
 * initial instructions. */
static int read_cie(uint64_t addr, uint8_t *buf, cie_t *cie, cur_t *c) {
    uint32_t len, got;
    if (read_entry(addr, buf, CFI_MAX_CIE, &len, &got) != 0 || len > CFI_MAX_CIE)
        return -1;
    *c = (cur_t){buf, buf + len, addr + 4, 0};
    if (cur_fixed(c, 4) != 0) /* CIE id */
        return -1;
    uint64_t version = cur_fixed(c, 1);
    if (version != 1 && version != 3)
        return -1;
    const char *aug = (const char *)c->p;
    size_t aug_len = strnlen(aug, (size_t)(c->end - c->p));
    if (aug_len == (size_t)(c->end - c->p))
        return -1;
    cur_skip(c, aug_len + 1);
    if (aug[0] != 0 && aug[0] != 'z')
        return -1; /* e.g. "eh": no way to skip what it means */
    cie->code_align = cur_uleb(c);
    cie->data_align = cur_sleb(c);
    cie->ra_reg = version == 1 ? (uint32_t)cur_fixed(c, 1) : (uint32_t)cur_uleb(c);
    cie->fde_enc = PE_ABSPTR;
    cie->has_aug_data = aug[0] == 'z';
    if (cie->has_aug_data) {
        uint64_t alen = cur_uleb(c);
        if (c->bad || alen > (uint64_t)(c->end - c->p))
            return -1;
        cur_t a = {c->p, c->p + alen, c->addr, 0};
        for (size_t i = 1; i < aug_len; i++) {
            switch (aug[i]) {
            case 'R':
                cie->fde_enc = (uint8_t)cur_fixed(&a, 1);
                break;
            case 'L':
                (void)cur_fixed(&a, 1);
                break;
            case 'P': {
                uint8_t enc = (uint8_t)cur_fixed(&a, 1);
                (void)cur_enc(&a, enc & (uint8_t)~PE_INDIRECT, 0);
                break;
            }
            case 'S': /* signal frame */
                break;
            default:
                i = aug_len; /* the rest is skipped with the length */
                break;
            }
        }
        if (a.bad)
            return -1;
        cur_skip(c, alen);
    }
    return c->bad || cie->code_align == 0 ? -1 : 0;
}

/* The FDE covering pc: its initial location and range, and the reader f
 * left at its instructions (c at the CIE's). Returns 1, or 0 when no FDE
 * covers pc (no image, no .eh_frame_hdr, the nearest FDE ends before pc). */
static int fde_for(cg_cfi_cache *cache, uint64_t pc, uint8_t *fbuf, uint8_t *cbuf, cie_t *cie,
                   cur_t *f, cur_t *c, uint64_t *begin, uint64_t *range, int *cut) {
    uint64_t hdr = eh_frame_hdr_for(cache, pc);
    if (hdr == 0)
        return 0;
    uint64_t fde = find_fde(cache, hdr, pc);
    if (fde == 0)
        return 0;
    uint32_t len, got;
    if (read_entry(fde, fbuf, CFI_MAX_FDE, &len, &got) != 0 || len < 8)
        return 0;
    *cut = got < len;
    *f = (cur_t){fbuf, fbuf + got, fde + 4, 0};
    uint32_t cie_off = (uint32_t)cur_fixed(f, 4);
    if (cie_off == 0 || cie_off > fde + 4)
        return 0; /* a CIE where an FDE should be */
    if (read_cie(fde + 4 - cie_off, cbuf, cie, c) != 0)
        return 0;
    *begin = cur_enc(f, cie->fde_enc, 0);
    *range = cur_enc(f, cie->fde_enc & 0x0fu, 0);
    if (f->bad || pc < *begin || pc - *begin >= *range)
        return 0; /* the nearest FDE does not cover pc: no CFI for it */
    if (cie->has_aug_data)
        cur_skip(f, cur_uleb(f));
    return f->bad ? 0 : 1;
}

int cg_cfi_func_range(cg_cfi_cache *cache, uint64_t pc, uint64_t *lo, uint64_t *hi) {
    uint8_t fbuf[CFI_MAX_FDE], cbuf[CFI_MAX_CIE];
    cie_t cie;
    cur_t f, c;
    uint64_t begin, range;
    int cut;
    if (fde_for(cache, pc, fbuf, cbuf, &cie, &f, &c, &begin, &range, &cut) != 1)
        return 0;
    *lo = begin;
    *hi = begin + range;
    return 1;
}

/* The row of the CFA table at pc. Returns 1, 0 for no CFI at pc, -1 for CFI
 * it cannot follow. */
static int row_at(cg_cfi_cache *cache, uint64_t pc, row_t *row) {
    uint8_t fbuf[CFI_MAX_FDE], cbuf[CFI_MAX_CIE];
    cie_t cie;
    cur_t f, c;
    uint64_t begin, range;
    int cut;
    if (fde_for(cache, pc, fbuf, cbuf, &cie, &f, &c, &begin, &range, &cut) != 1)
        return 0;

    row_t initial = {0};
    initial.cfa_reg = CFI_REG_SP;
    if (run_cfa(&c, &cie, &initial, &initial, begin, UINT64_MAX, 1) != 0)
        return -1;
    *row = initial;
    int stop = run_cfa(&f, &cie, row, &initial, begin, pc, 0);
    if (stop < 0 || (stop == 0 && cut))
        return -1;
    return 1;
}

int cg_cfi_step(cg_cfi_cache *cache, const cg_cfi_frame *in, int top, cg_cfi_frame *out) {
    row_t row;
    /* A return address points after the call, maybe past the end of the
     * caller's FDE (a call to a noreturn function last): look up the call. */
    uint64_t lookup = top ? in->pc : in->pc - 1;
    int r = row_at(cache, lookup, &row);
    if (r <= 0)
        return r;
    if (row.cfa_unsupported || (row.cfa_reg != CFI_REG_SP && row.cfa_reg != CFI_REG_FP))
        return -1;
    uint64_t base = row.cfa_reg == CFI_REG_SP ? in->sp : in->fp;
    uint64_t cfa = base + (uint64_t)row.cfa_off;
    out->fp = in->fp;
    switch (row.fp.how) {
    case RULE_SAME:
        break;
    case RULE_OFFSET:
        if (cg_safe_read(&out->fp, cfa + (uint64_t)row.fp.off, 8) != 0)
            return -1;
        break;
    case RULE_VAL_OFFSET:
        out->fp = cfa + (uint64_t)row.fp.off;
        break;
    case RULE_UNDEFINED:
        out->fp = 0;
        break;
    default:
        return -1;
    }
    uint64_t ra;
    switch (row.ra.how) {
    case RULE_OFFSET:
        if (cg_safe_read(&ra, cfa + (uint64_t)row.ra.off, 8) != 0)
            return -1;
        break;
    case RULE_UNDEFINED:
        return CG_CFI_END; /* the outermost frame (_start, clone) */
#if defined(__aarch64__)
    case RULE_SAME:
        /* Still in lr: a leaf, or a prologue before lr is saved. Known only
         * in the frame the walk starts from (lr is not callee-saved, so a
         * frame above with its return address in lr cannot be followed). */
        if (!top || in->lr == 0)
            return -1;
        ra = in->lr;
        break;
#endif
    default:
        return -1;
    }
    ra = cg_strip_pc(ra);
    if (ra == 0)
        return CG_CFI_END;
    out->pc = ra;
    out->sp = cfa;
    out->lr = 0; /* the caller's lr is not known */
    return 1;
}

#else /* no CFI on this platform */

int cg_cfi_func_range(cg_cfi_cache *cache, uint64_t pc, uint64_t *lo, uint64_t *hi) {
    (void)cache;
    (void)pc;
    (void)lo;
    (void)hi;
    return 0;
}

int cg_cfi_step(cg_cfi_cache *cache, const cg_cfi_frame *in, int top, cg_cfi_frame *out) {
    (void)cache;
    (void)in;
    (void)top;
    (void)out;
    return 0;
}

#endif
