//go:build cgo && (linux || darwin)

/*
 * cg_recorder.c: attaching the flight recorder and claiming its slots.
 *
 * Writers (signal handlers on any thread, the Mach exception thread) never
 * block: a record is claimed by fetch_add on the header's sequence counter
 * (slot = seq % N) and a compare-and-swap of the slot's state to WRITING, so
 * two writers never share a slot even when the ring wraps under them; a
 * writer fills it with plain stores and publishes it with a release store
 * of COMPLETE. A process that dies mid-write leaves state WRITING: the
 * decoder returns that record marked Incomplete.
 */
#include "cg_recorder.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The active recorder. Published with release order after every field of
 * the snapshot is written; read with acquire order by writers. */
static _Atomic(cg_recorder *) g_active;
/* Writers currently between cg_writer_enter and cg_writer_leave. Detach
 * waits for it to drop to zero before unmapping, so a late writer never
 * touches an unmapped page. */
static _Atomic int g_writers;
/* Snapshots are static, so nothing is allocated: one per attached
 * recorder, free again once a detach has seen every writer leave. Several
 * are needed only when a detach timed out (its snapshot stays in use). */
#define CG_MAX_ATTACH 16
static cg_recorder g_snapshots[CG_MAX_ATTACH];
static _Atomic int g_snapshot_used[CG_MAX_ATTACH];

void cg_writer_enter(void) { atomic_fetch_add_explicit(&g_writers, 1, memory_order_seq_cst); }

void cg_writer_leave(void) { atomic_fetch_sub_explicit(&g_writers, 1, memory_order_seq_cst); }

cg_recorder *cg_recorder_get(void) {
    /* seq_cst pairs with detach's store + load of g_writers: either detach
     * sees this writer counted, or this writer sees NULL. */
    return atomic_load_explicit(&g_active, memory_order_seq_cst);
}

static int header_ok(const cg_header *h, uint64_t size) {
    if (memcmp(h->magic, CG_MAGIC, 8) != 0 || h->version != CG_VERSION)
        return 0;
    if (h->header_size != CG_HEADER_SIZE || h->record_size != CG_RECORD_SIZE ||
        h->image_size != CG_IMAGE_SIZE || h->max_registers != CG_MAX_REGS ||
        h->max_frames != CG_MAX_FRAMES)
        return 0;
    if (h->record_count == 0 || h->record_count > 4096 || h->image_capacity > 16384)
        return 0;
    uint64_t images_end = (uint64_t)h->image_offset + (uint64_t)h->image_capacity * CG_IMAGE_SIZE;
    uint64_t end = (uint64_t)h->record_offset + (uint64_t)h->record_count * CG_RECORD_SIZE;
    if (h->image_offset < CG_HEADER_SIZE || h->image_offset % 8 != 0 ||
        h->record_offset < images_end || h->record_offset % 64 != 0)
        return 0;
    return end == h->file_size && end <= size;
}

int cg_recorder_attach(int fd, uint64_t size, uint64_t text_lo, uint64_t text_hi) {
    if (atomic_load(&g_active) != NULL)
        return EBUSY;
    if (size < CG_HEADER_SIZE || size > ((uint64_t)1 << 30))
        return EINVAL;
    int n = 0;
    for (; n < CG_MAX_ATTACH; n++) {
        int unused = 0;
        if (atomic_compare_exchange_strong(&g_snapshot_used[n], &unused, 1))
            break;
    }
    if (n == CG_MAX_ATTACH)
        return ENOSPC;
    void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int e = errno ? errno : EIO;
        atomic_store(&g_snapshot_used[n], 0);
        return e;
    }
    cg_header *h = (cg_header *)map;
    if (!header_ok(h, size)) {
        munmap(map, (size_t)size);
        atomic_store(&g_snapshot_used[n], 0);
        return EINVAL;
    }
    cg_recorder *rec = &g_snapshots[n];
    rec->hdr = h;
    rec->images = (cg_image *)((char *)map + h->image_offset);
    rec->records = (cg_record *)((char *)map + h->record_offset);
    rec->nrecords = h->record_count;
    rec->image_capacity = h->image_capacity;
    rec->text_lo = text_lo;
    rec->text_hi = text_hi;
    rec->map = map;
    rec->map_size = (size_t)size;
    h->go_text_start = text_lo;
    h->go_text_end = text_hi;
    /* Take the first-write fault of every page now (MAP_POPULATE maps
     * shared file pages read-only), not in the crash path. Nothing else
     * sees the mapping yet. */
    for (uint64_t off = 0; off < size; off += 4096)
        ((volatile uint8_t *)map)[off] = ((volatile uint8_t *)map)[off];
    cg_recorder *expected = NULL;
    if (!atomic_compare_exchange_strong(&g_active, &expected, rec)) {
        munmap(map, (size_t)size);
        atomic_store(&g_snapshot_used[n], 0);
        return EBUSY;
    }
    return 0;
}

int cg_recorder_detach(void) {
    cg_recorder *rec = atomic_exchange(&g_active, NULL);
    if (rec == NULL)
        return 0;
    /* Bounded wait: 2 s in 1 ms steps. A writer inside the recorder is a
     * fault being handled right now; it finishes in microseconds. */
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(&g_writers) == 0) {
            munmap(rec->map, rec->map_size);
            atomic_store(&g_snapshot_used[rec - g_snapshots], 0);
            return 0;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return EAGAIN;
}

void cg_recorder_disable(void) { atomic_store(&g_active, NULL); }

void cg_recorder_set_layers(uint32_t or_bits) {
    cg_recorder *rec = atomic_load(&g_active);
    if (rec != NULL)
        atomic_fetch_or(&rec->hdr->layers, or_bits);
}

int cg_pc_in_go_text(const cg_recorder *rec, uint64_t pc) {
    return pc >= rec->text_lo && pc < rec->text_hi;
}

uint32_t cg_record_frames(cg_record *r, int go_code, uint64_t pc, uint64_t sp, uint64_t fp,
                          uint64_t lr) {
    uint32_t wflags = 0;
    if (go_code) {
        r->frames[0] = cg_strip_pc(pc);
        r->nframes = 1;
    } else {
        r->nframes =
            cg_unwind(pc, sp, fp, lr, r->frames, CG_MAX_FRAMES, CG_UNWIND_VALIDATE, &wflags);
    }
    return wflags;
}

int64_t cg_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t cg_since_ns(int64_t t0) {
    int64_t dt = cg_now_ns() - t0;
    return dt < 0 ? 0 : dt > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
}

/* A record worth keeping over a new one: the handler knew it was fatal, or
 * it was written for native code / by the Mach thread (rare, expensive,
 * and the evidence for a crash), as opposed to a cheap record of a fault in
 * Go code, which is usually a recovered nil dereference. */
static int precious(uint32_t flags) {
    return (flags & CG_FLAG_FATAL) != 0 || (flags & CG_FLAG_GO_CODE) == 0;
}

cg_record *cg_record_claim(cg_recorder *rec) {
    uint32_t n = rec->nrecords;
    /* First turn: skip slots being written and precious ones. Second turn:
     * take anything not being written (oldest precious records go first,
     * as the sequence walks the ring in order). */
    for (uint32_t tries = 0; tries < 2 * n; tries++) {
        uint64_t seq = atomic_fetch_add_explicit(&rec->hdr->next_seq, 1, memory_order_relaxed) + 1;
        cg_record *r = &rec->records[seq % n];
        uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);
        if (st == CG_STATE_WRITING)
            continue;
        if (tries < n && st == CG_STATE_COMPLETE &&
            precious(__atomic_load_n(&r->flags, __ATOMIC_RELAXED)))
            continue;
        if (!atomic_compare_exchange_strong_explicit(&r->state, &st, CG_STATE_WRITING,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        /* Ours now. Another writer may have refilled the slot between our
         * flags check and the CAS (state went 2 -> 1 -> 2): look again. */
        if (tries < n && st == CG_STATE_COMPLETE && precious(r->flags)) {
            atomic_store_explicit(&r->state, CG_STATE_COMPLETE, memory_order_release);
            continue;
        }
        r->seq = seq;
        r->flags = 0;
        r->time_ns = 0;
        r->thread_id = 0;
        r->signo = 0;
        r->code = 0;
        r->addr = 0;
        r->pc = 0;
        r->sp = 0;
        r->mach_exception = 0;
        r->mach_code = 0;
        r->mach_subcode = 0;
        r->nregs = 0;
        r->nframes = 0;
        r->handler_ns = 0;
        r->sender_pid = 0;
        return r;
    }
    return NULL;
}

void cg_record_complete(cg_record *r) {
    atomic_store_explicit(&r->state, CG_STATE_COMPLETE, memory_order_release);
}

cg_record *cg_record_find_mach(cg_recorder *rec, uint64_t thread_id, int64_t now_ns,
                               int64_t max_age_ns) {
    for (int attempt = 0; attempt < 4; attempt++) {
        cg_record *best = NULL;
        uint64_t best_seq = 0;
        for (uint32_t i = 0; i < rec->nrecords; i++) {
            cg_record *r = &rec->records[i];
            if (atomic_load_explicit(&r->state, memory_order_acquire) != CG_STATE_COMPLETE)
                continue;
            if ((r->flags & CG_FLAG_FROM_MACH) == 0 || (r->flags & CG_FLAG_FROM_SIGNAL) != 0 ||
                r->thread_id != thread_id || r->signo != 0)
                continue;
            if (now_ns - r->time_ns > max_age_ns || r->time_ns - now_ns > max_age_ns)
                continue;
            if (best == NULL || r->seq > best_seq) {
                best = r;
                best_seq = r->seq;
            }
        }
        if (best == NULL)
            return NULL;
        uint32_t st = CG_STATE_COMPLETE;
        if (atomic_compare_exchange_strong_explicit(&best->state, &st, CG_STATE_WRITING,
                                                    memory_order_acquire, memory_order_relaxed)) {
            if (best->seq == best_seq)
                return best;
            /* Reused under us by another writer: put it back, look again. */
            atomic_store_explicit(&best->state, CG_STATE_COMPLETE, memory_order_release);
        }
    }
    return NULL;
}

int cg_record_mach_exception(uint64_t thread_id, int32_t exception, int64_t code,
                             int64_t subcode, const uint64_t *regs, uint32_t nregs,
                             uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr) {
    int64_t t0 = cg_now_ns();
    int ret = 0;
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    if (rec == NULL) {
        ret = -1;
        goto out;
    }
    cg_record *r = cg_record_claim(rec);
    if (r == NULL) {
        ret = -2;
        goto out;
    }
    r->time_ns = t0;
    r->thread_id = thread_id;
    r->mach_exception = exception;
    r->mach_code = code;
    r->mach_subcode = subcode;
    r->addr = (uint64_t)subcode;
    r->pc = pc;
    r->sp = sp;
    uint32_t flags = CG_FLAG_FROM_MACH;
    int go_code = cg_pc_in_go_text(rec, pc);
    if (go_code)
        flags |= CG_FLAG_GO_CODE;
    if (regs != NULL) {
        if (nregs > CG_MAX_REGS)
            nregs = CG_MAX_REGS;
        for (uint32_t i = 0; i < nregs; i++)
            r->regs[i] = regs[i];
        r->nregs = nregs;
    }
    /* The faulting thread is suspended: its stack holds still while we walk
     * it. */
    flags |= cg_record_frames(r, go_code, pc, sp, fp, lr);
    r->flags = flags;
    r->handler_ns = cg_since_ns(t0);
    cg_record_complete(r);
out:
    cg_writer_leave();
    return ret;
}

cg_image *cg_image_add(cg_recorder *rec, const char *path, uint32_t type, uint16_t flags,
                       uint64_t base, uint64_t size, uint64_t vmaddr,
                       const uint8_t *build_id, uint32_t build_id_len) {
    uint32_t slot = atomic_fetch_add(&rec->hdr->image_count, 1);
    if (slot >= rec->image_capacity)
        return NULL;
    cg_image *im = &rec->images[slot];
    atomic_store_explicit(&im->state, CG_STATE_WRITING, memory_order_relaxed);
    im->type = (uint8_t)type;
    im->flags = flags;
    im->base = base;
    im->size = size;
    im->vmaddr = vmaddr;
    if (build_id_len > CG_MAX_BUILD_ID)
        build_id_len = CG_MAX_BUILD_ID;
    memset(im->build_id, 0, sizeof im->build_id);
    if (build_id != NULL && build_id_len > 0)
        memcpy(im->build_id, build_id, build_id_len);
    im->build_id_len = (uint8_t)build_id_len;
    memset(im->path, 0, sizeof im->path);
    if (path != NULL) {
        size_t n = strlen(path);
        /* Keep the tail of a long path: the file name matters most. */
        if (n > CG_MAX_PATH - 1)
            path += n - (CG_MAX_PATH - 1), n = CG_MAX_PATH - 1;
        memcpy(im->path, path, n);
    }
    atomic_store_explicit(&im->state, CG_STATE_COMPLETE, memory_order_release);
    return im;
}

int cg_image_known(const cg_recorder *rec, uint64_t base) {
    uint32_t n = atomic_load(&rec->hdr->image_count);
    if (n > rec->image_capacity)
        n = rec->image_capacity;
    for (uint32_t i = 0; i < n; i++) {
        cg_image *im = &rec->images[i];
        if (atomic_load_explicit(&im->state, memory_order_acquire) == CG_STATE_COMPLETE &&
            im->base == base)
            return 1;
    }
    return 0;
}
