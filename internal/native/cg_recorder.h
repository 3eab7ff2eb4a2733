/*
 * cg_recorder.h: the flight recorder as C sees it, and the recorder API the
 * signal handler (cg_signal.c) and the Mach exception thread
 * (cg_mach_darwin.c) write through.
 *
 * The byte layout is defined in Go (internal/flightrec/layout.go, version 1)
 * and mirrored here; the _Static_asserts below pin the sizes, and
 * TestCLayoutMatchesGo (core_test.go) compares every offsetof/sizeof with
 * flightrec.Layout(). The file is created and its header written by Go
 * (flightrec.Create); cg_recorder_attach maps it MAP_SHARED, so a store here
 * is in the page cache at once and survives the death of the process
 * without any system call in the crash path.
 *
 * Everything called from a fault (cg_record_*) is async-signal-safe: no
 * malloc, no locks, no stdio, no Go; slots are claimed with C11 atomics.
 */
#ifndef CG_RECORDER_H
#define CG_RECORDER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAGIC "CGFLTREC"
#define CG_VERSION 1u
#define CG_HEADER_SIZE 512u
#define CG_IMAGE_SIZE 320u
#define CG_RECORD_SIZE 960u
#define CG_MAX_REGS 40u
#define CG_MAX_FRAMES 64u
#define CG_MAX_PATH 256u
#define CG_MAX_BUILD_ID 32u
#define CG_MAX_SENTINEL_NAME 128u

/* Slot states (records and images). */
#define CG_STATE_EMPTY 0u
#define CG_STATE_WRITING 1u
#define CG_STATE_COMPLETE 2u

/* Record flags: flightrec.Flag*. */
#define CG_FLAG_FATAL (1u << 0)
#define CG_FLAG_GO_THREAD (1u << 1)
#define CG_FLAG_FROM_MACH (1u << 2)
#define CG_FLAG_FROM_SIGNAL (1u << 3)
#define CG_FLAG_SUPPRESSED_EXIT (1u << 4)
#define CG_FLAG_GO_CODE (1u << 5)
#define CG_FLAG_FROM_USER (1u << 6)
#define CG_FLAG_FRAMES_TRUNCATED (1u << 7)
#define CG_FLAG_FRAMES_SCANNED (1u << 8)

/* Header fields arch, os and layers are written by Go (flightrec.Create,
 * native.Install with flightrec.Layer*): no C mirror needed. */

#define CG_IMAGE_ELF 1u
#define CG_IMAGE_MACHO 2u
#define CG_IMAGE_FLAG_MAIN 1u

typedef struct cg_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint32_t record_size;
    uint32_t record_count;
    uint32_t record_offset;
    uint32_t image_size;
    uint32_t image_capacity;
    uint32_t image_offset;
    uint32_t arch;
    uint32_t os;
    int64_t pid;
    int64_t start_time;
    uint64_t sentinel_pc;
    uint64_t go_text_start;
    uint64_t go_text_end;
    _Atomic uint64_t next_seq;
    _Atomic uint32_t image_count;
    _Atomic uint32_t layers;
    uint32_t max_registers;
    uint32_t max_frames;
    char sentinel_name[CG_MAX_SENTINEL_NAME];
    uint64_t file_size;
    uint8_t reserved[CG_HEADER_SIZE - 248];
} cg_header;

typedef struct cg_image {
    _Atomic uint32_t state;
    uint8_t type;
    uint8_t build_id_len;
    uint16_t flags;
    uint64_t base;
    uint64_t size;
    uint64_t vmaddr;
    uint8_t build_id[CG_MAX_BUILD_ID];
    char path[CG_MAX_PATH];
} cg_image;

typedef struct cg_record {
    _Atomic uint32_t state;
    uint32_t flags;
    uint64_t seq;
    int64_t time_ns;
    uint64_t thread_id;
    int32_t signo;
    int32_t code;
    uint64_t addr;
    uint64_t pc;
    uint64_t sp;
    int32_t mach_exception;
    uint32_t nregs;
    int64_t mach_code;
    int64_t mach_subcode;
    uint32_t nframes;
    uint32_t handler_ns;
    uint64_t regs[CG_MAX_REGS];
    uint64_t frames[CG_MAX_FRAMES];
    int32_t sender_pid;
    uint32_t reserved0;
    uint64_t reserved[3];
} cg_record;

_Static_assert(sizeof(cg_header) == CG_HEADER_SIZE, "cg_header layout");
_Static_assert(sizeof(cg_image) == CG_IMAGE_SIZE, "cg_image layout");
_Static_assert(sizeof(cg_record) == CG_RECORD_SIZE, "cg_record layout");
_Static_assert(CG_RECORD_SIZE % 64 == 0, "records are whole cache lines");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
               "atomics have the plain layout");

/*
 * ---- The contract with the Mach exception thread (darwin) ----
 *
 * cg_record_mach_exception records one Mach exception. It is called on the
 * Mach exception thread, not on the faulting thread (which the kernel holds
 * suspended until the reply), before the reply is sent:
 *
 *   thread_id  the faulting thread's 64-bit system thread id: thread_info
 *              THREAD_IDENTIFIER_INFO .thread_id, the same number
 *              pthread_threadid_np returns on that thread (the signal handler
 *              uses pthread_threadid_np to find this record again).
 *   exception  EXC_BAD_ACCESS, ...; code, subcode: code[0], code[1] of the
 *              64-bit (MACH_EXCEPTION_CODES) message.
 *   regs       the thread state, nregs 64-bit words in flightrec's register
 *              order, which is the order of the darwin thread state structs:
 *              amd64: x86_thread_state64_t as 21 words (rax rbx rcx rdx rdi
 *              rsi rbp rsp r8..r15 rip rflags cs fs gs); arm64:
 *              arm_thread_state64_t as 34 words (x0..x28 fp lr sp pc cpsr,
 *              cpsr widened to 64 bits). At most CG_MAX_REGS are kept.
 *   pc sp fp lr  for the frame walk (lr is 0 on amd64).
 *
 * It claims a record flagged CG_FLAG_FROM_MACH, fills it and walks the frames
 * from fp with reads that cannot fault (mach_vm_read_overwrite), except for
 * a pc in the Go text (flagged CG_FLAG_GO_CODE, frames = the pc only: the
 * cheap path, as in the signal handler). If the
 * signal for the same fault reaches the signal handler afterwards, the
 * handler completes THAT record (signal, si_code, flags) instead of writing a
 * second one: one record per fault. Returns 0 on success, -1 if no recorder
 * is attached, -2 if no slot could be claimed. Async-signal-safe and
 * lock-free; safe to call concurrently with the signal handler.
 */
int cg_record_mach_exception(uint64_t thread_id, int32_t exception, int64_t code,
                             int64_t subcode, const uint64_t *regs, uint32_t nregs,
                             uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr);

/* ---- Internal API (cg_recorder.c) ---- */

/* A snapshot of an attached recorder. Never freed while it may be in use:
 * see cg_recorder_detach. */
typedef struct cg_recorder {
    cg_header *hdr;
    cg_image *images;
    cg_record *records;
    uint32_t nrecords;
    uint32_t image_capacity;
    uint64_t text_lo, text_hi; /* Go text [lo, hi), 0 when unknown */
    void *map;
    size_t map_size;
} cg_recorder;

/* Maps fd (size bytes, a file written by flightrec.Create) MAP_SHARED,
 * validates the header and makes it the active recorder. Returns 0 or an
 * errno value (EINVAL for a bad header, EBUSY if one is attached). */
int cg_recorder_attach(int fd, uint64_t size, uint64_t text_lo, uint64_t text_hi);
/* Unpublishes the active recorder, waits (bounded) for writers that are
 * still inside it, and unmaps it. Returns 0, or EAGAIN if writers did not
 * leave in time (the mapping is then leaked, never unmapped under them). */
int cg_recorder_detach(void);
/* The active recorder, or NULL. Call between cg_writer_enter/leave. */
cg_recorder *cg_recorder_get(void);
void cg_writer_enter(void);
void cg_writer_leave(void);
void cg_recorder_set_layers(uint32_t or_bits);
/* Disables recording in this process (fork child). */
void cg_recorder_disable(void);

/* Claims a record slot: state 1, seq set, counts zeroed. Prefers slots that
 * do not hold a "precious" record (fatal, or a native/Mach one) while a
 * full turn of the ring has not been tried. NULL if none could be had. */
cg_record *cg_record_claim(cg_recorder *rec);
/* Publishes a claimed record: state 2, release ordering. */
void cg_record_complete(cg_record *r);
/* darwin: the most recent complete Mach record for thread_id with no signal
 * yet, no older than max_age_ns, re-claimed (state 1); NULL if none. */
cg_record *cg_record_find_mach(cg_recorder *rec, uint64_t thread_id, int64_t now_ns,
                               int64_t max_age_ns);
/* 1 if pc lies in the Go text of the executable. */
int cg_pc_in_go_text(const cg_recorder *rec, uint64_t pc);
/* Fills r->frames for a fault at pc: the pc alone when go_code (the cheap
 * path: Go prints the Go stack if the fault turns out fatal, and a recovered
 * panic should cost next to nothing), else the validated frame walk.
 * Returns the walk's CG_FLAG_FRAMES_* flags. */
uint32_t cg_record_frames(cg_record *r, int go_code, uint64_t pc, uint64_t sp, uint64_t fp,
                          uint64_t lr);
/* CLOCK_REALTIME in ns. */
int64_t cg_now_ns(void);
/* ns from t0 to now, saturated to handler_ns's 32 bits. */
uint32_t cg_since_ns(int64_t t0);

/* Claims and fills an image slot (install time and dyld callbacks, never
 * the crash path). Returns the slot or NULL when the table is full. */
cg_image *cg_image_add(cg_recorder *rec, const char *path, uint32_t type, uint16_t flags,
                       uint64_t base, uint64_t size, uint64_t vmaddr,
                       const uint8_t *build_id, uint32_t build_id_len);
/* 1 if an image with this base is already in the table. */
int cg_image_known(const cg_recorder *rec, uint64_t base);

/* ---- OS primitives (cg_os_linux.c / cg_os_darwin.c) ---- */

/* The calling thread's id: Linux gettid (cached per thread), darwin
 * pthread_threadid_np. Async-signal-safe. */
uint64_t cg_thread_id(void);
/* Copies n bytes at src into dst; returns 0, or -1 if any byte is not
 * readable. Never faults. */
int cg_safe_read(void *dst, uint64_t src, size_t n);
/* Scans the loaded images into rec (Linux: dl_iterate_phdr; darwin: the
 * dyld add-image callback). Install time only. Returns images added. */
int cg_images_scan(cg_recorder *rec);
/* Install-time setup (pid cache, fallback read pipe). */
void cg_os_init(void);
/* Resets per-thread caches in a fork child. */
void cg_os_after_fork_child(void);

/* ---- Frame walk (cg_unwind.c) ---- */

/* cg_unwind options. */
#define CG_UNWIND_VALIDATE 1u /* check return addresses against the code ranges
                                 and scan the stack when the chain is short */

/* Walks the frame-pointer chain: frames[0] = pc, [1] = lr when lr != 0
 * (arm64 leaf), then return addresses from fp. With CG_UNWIND_VALIDATE (and
 * known code ranges) a "return address" outside executable code ends the
 * chain, and a chain that yields no caller is followed by a bounded stack
 * scan. Returns the number of frames; *flags gets CG_FLAG_FRAMES_TRUNCATED
 * and/or CG_FLAG_FRAMES_SCANNED. Reads only through cg_safe_read. */
uint32_t cg_unwind(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t *frames,
                   uint32_t max, uint32_t opts, uint32_t *flags);

/* Executable ranges of the loaded images (process memory only, not in the
 * file), filled at install / image load; read lock-free by the walk. */
void cg_code_range_add(uint64_t lo, uint64_t hi);
/* 1 if a is in a known code range, 0 if not, -1 if none are known. */
int cg_code_addr(uint64_t a);
/* Strips pointer-authentication / tag bits from a code address (arm64). */
uint64_t cg_strip_pc(uint64_t pc);

#ifdef __cplusplus
}
#endif
#endif /* CG_RECORDER_H */
