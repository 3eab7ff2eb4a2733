//go:build cgo

/*
 * cg_os_linux.c: Linux primitives for the recorder and the handler.
 */
#define _GNU_SOURCE
#include "cg_recorder.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The thread id, cached per thread after the first fault on it: gettid is
 * a system call (~200 ns on a VM), too much for the path a recovered Go nil
 * dereference takes. initial-exec TLS is a plain %fs/tpidr_el0-relative
 * access, safe in a signal handler (no lazy allocation). A fork child's
 * only thread would inherit its parent thread's value:
 * cg_os_after_fork_child clears it. */
static __thread uint64_t cg_tls_tid __attribute__((tls_model("initial-exec")));

uint64_t cg_thread_id(void) {
    uint64_t t = cg_tls_tid;
    if (t == 0) {
        t = (uint64_t)syscall(SYS_gettid);
        cg_tls_tid = t;
    }
    return t;
}

/* Our pid for process_vm_readv, refreshed in a fork child. */
static _Atomic int g_pid;
/* process_vm_readv is refused (seccomp, old kernel): use the pipe. */
static _Atomic int g_pvr_broken;
/* Fallback read: write(2) from the address into a pipe fails with EFAULT
 * instead of faulting. One reader at a time: a try-lock, retried a bounded
 * number of times with sched_yield (threads faulting together each need
 * many reads for their walks: failing at once lost their frames under QEMU,
 * which has no process_vm_readv; a handler nested on the thread that holds
 * it gives up after the bound instead of waiting for itself). */
#define CG_PIPE_TRIES 2000
static int g_pipe[2] = {-1, -1};
static _Atomic int g_pipe_busy;

void cg_os_init(void) {
    atomic_store(&g_pid, (int)getpid());
    if (g_pipe[0] < 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
            g_pipe[0] = p[0];
            g_pipe[1] = p[1];
        }
    }
}

void cg_os_after_fork_child(void) {
    cg_tls_tid = 0;
    atomic_store(&g_pid, (int)syscall(SYS_getpid));
}

static int pipe_read(void *dst, uint64_t src, size_t n) {
    int unused = 0;
    if (g_pipe[1] < 0 || n > 4096)
        return -1;
    for (int i = 0;; i++) {
        unused = 0;
        if (atomic_compare_exchange_strong(&g_pipe_busy, &unused, 1))
            break;
        if (i == CG_PIPE_TRIES)
            return -1;
        syscall(SYS_sched_yield);
    }
    int ret = -1;
    ssize_t w = write(g_pipe[1], (const void *)(uintptr_t)src, n);
    if (w > 0) {
        ssize_t r = read(g_pipe[0], dst, (size_t)w);
        if (w == (ssize_t)n && r == w)
            ret = 0;
        /* Drain anything left so the next reader starts clean. */
        char sink[64];
        while (read(g_pipe[0], sink, sizeof sink) > 0) {
        }
    }
    atomic_store(&g_pipe_busy, 0);
    return ret;
}

int cg_safe_read(void *dst, uint64_t src, size_t n) {
    if (!atomic_load_explicit(&g_pvr_broken, memory_order_relaxed)) {
        struct iovec local = {dst, n};
        struct iovec remote = {(void *)(uintptr_t)src, n};
        long got = syscall(SYS_process_vm_readv, (long)atomic_load(&g_pid), &local, 1L, &remote,
                           1L, 0L);
        if (got == (long)n)
            return 0;
        if (got >= 0 || errno == EFAULT || errno == ENOMEM)
            return -1;
        if (errno != ENOSYS && errno != EPERM)
            return -1;
        atomic_store(&g_pvr_broken, 1);
    }
    return pipe_read(dst, src, n);
}

/* 1 once cg_safe_read has fallen back to the pipe (process_vm_readv
 * refused: seccomp, an old kernel, QEMU user emulation), else 0. For tests
 * that the primary path is the one used where the kernel allows it. */
int cg_safe_read_fallback(void) { return atomic_load(&g_pvr_broken); }

/* ---- Images: dl_iterate_phdr, at install time only (it takes the loader
 * lock, so never from a handler). In C rather than from /proc/self/maps in
 * Go: the loader knows every object's exact load bias, including ones whose
 * file was replaced or deleted and the vDSO, and the build-id is read from
 * the PT_NOTE segment in memory (no file I/O, the bytes that actually run). */

static size_t note_align(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* Finds NT_GNU_BUILD_ID in a mapped PT_NOTE segment. */
static const uint8_t *find_build_id(const uint8_t *p, size_t len, size_t align, uint32_t *out_len) {
    if (align != 8)
        align = 4;
    size_t off = 0;
    while (off + sizeof(ElfW(Nhdr)) <= len) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(p + off);
        size_t name_off = off + sizeof(ElfW(Nhdr));
        size_t desc_off = name_off + note_align(nh->n_namesz, align);
        size_t next = desc_off + note_align(nh->n_descsz, align);
        if (desc_off > len || next > len || next <= off)
            return NULL;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            memcmp(p + name_off, "GNU", 4) == 0) {
            *out_len = nh->n_descsz;
            return p + desc_off;
        }
        off = next;
    }
    return NULL;
}

struct scan_state {
    cg_recorder *rec;
    int index;
    int added;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
    struct scan_state *st = (struct scan_state *)data;
    int is_main = st->index++ == 0;
    (void)size;
    uint64_t lo = UINT64_MAX, hi = 0;
    const uint8_t *bid = NULL;
    uint32_t bid_len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            if (ph->p_flags & PF_X)
                cg_code_range_add(info->dlpi_addr + ph->p_vaddr,
                                  info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
            if (ph->p_vaddr < lo)
                lo = ph->p_vaddr;
            if (ph->p_vaddr + ph->p_memsz > hi)
                hi = ph->p_vaddr + ph->p_memsz;
        } else if (ph->p_type == PT_NOTE && bid == NULL) {
            bid = find_build_id((const uint8_t *)(uintptr_t)(info->dlpi_addr + ph->p_vaddr),
                                ph->p_memsz, ph->p_align, &bid_len);
        }
    }
    if (lo == UINT64_MAX)
        return 0;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t vmaddr = lo & ~(page - 1);
    uint64_t base = info->dlpi_addr + vmaddr;
    if (cg_image_known(st->rec, base))
        return 0;
    const char *path = info->dlpi_name;
    static char exe[CG_MAX_PATH * 4];
    if (is_main || path == NULL || path[0] == 0) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    if (cg_image_add(st->rec, path, CG_IMAGE_ELF, is_main ? CG_IMAGE_FLAG_MAIN : 0, base,
                     info->dlpi_addr + hi - base, vmaddr, bid, bid_len) != NULL)
        st->added++;
    return 0;
}

int cg_images_scan(cg_recorder *rec) {
    struct scan_state st = {rec, 0, 0};
    dl_iterate_phdr(phdr_cb, &st);
    return st.added;
}
