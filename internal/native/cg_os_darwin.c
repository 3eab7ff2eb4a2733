//go:build cgo

/*
 * cg_os_darwin.c: darwin primitives for the recorder and the handler.
 * Compile-checked only (zig cross build); see the package doc.
 */
#include "cg_machmsg.h"
#include "cg_recorder.h"

#include <dlfcn.h>
#include <mach-o/dyld.h>
#include <mach-o/loader.h>
#include <mach/mach.h>
#if __has_include(<mach/mach_vm.h>)
#include <mach/mach_vm.h>
#define CG_HAVE_MACH_VM 1
#endif
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* The 64-bit system thread id; the Mach exception thread gets the same
 * number from thread_info(THREAD_IDENTIFIER_INFO).thread_id. For the calling
 * thread libpthread returns the id cached in its pthread_t (pthread.c
 * pthread_threadid_np): no lock, no system call, safe in a handler. */
uint64_t cg_thread_id(void) {
    uint64_t t = 0;
    pthread_threadid_np(NULL, &t);
    return t;
}

/* Nothing to cache: thread ids are asked for each time, and a fork child's
 * mach_task_self() is refreshed by libsystem itself (libsyscall mach_init.c
 * _mach_fork_child). */
void cg_os_init(void) {}

/* The child inherited the task's exception ports but none of our threads:
 * take our port off it (cg_mach_server_darwin.c cg_mach_after_fork_child),
 * so its faults never make a round trip to the parent (xnu ipc_tt.c: ports
 * survive fork and exec). One Mach trap: async-signal-safe. */
void cg_os_after_fork_child(void) { cg_mach_after_fork_child(); }

/* A Mach VM read of our own task fails with KERN_INVALID_ADDRESS /
 * KERN_PROTECTION_FAILURE instead of faulting (what KSCrash and
 * PLCrashReporter use for the same purpose). */
int cg_safe_read(void *dst, uint64_t src, size_t n) {
#if defined(CG_HAVE_MACH_VM)
    mach_vm_size_t got = 0;
    kern_return_t kr = mach_vm_read_overwrite(mach_task_self(), (mach_vm_address_t)src,
                                              (mach_vm_size_t)n,
                                              (mach_vm_address_t)(uintptr_t)dst, &got);
#else
    /* SDKs without the MIG header (zig's): the vm_ variant is the same call
     * with 64-bit vm_address_t in a 64-bit task. */
    vm_size_t got = 0;
    kern_return_t kr = vm_read_overwrite(mach_task_self(), (vm_address_t)src, (vm_size_t)n,
                                         (vm_address_t)(uintptr_t)dst, &got);
#endif
    return (kr == KERN_SUCCESS && got == n) ? 0 : -1;
}

/* ---- Images: the dyld image list, plus the add-image callback for
 * libraries loaded later (dlopen). Neither runs in the crash path. */

static void add_macho(cg_recorder *rec, const struct mach_header *mh, const char *path) {
    /* Loaded images are 64-bit and in this process's byte order. */
    if (mh == NULL || mh->magic != MH_MAGIC_64)
        return;
    uint64_t base = (uint64_t)(uintptr_t)mh;
    const uint8_t *uuid = NULL;
    uint64_t vmaddr = 0, size = 0;
    const uint8_t *p = (const uint8_t *)mh + sizeof(struct mach_header_64);
    const uint8_t *end = p + mh->sizeofcmds;
    for (uint32_t i = 0; i < mh->ncmds && p + sizeof(struct load_command) <= end; i++) {
        const struct load_command *lc = (const struct load_command *)p;
        if (lc->cmdsize < sizeof(struct load_command) || p + lc->cmdsize > end)
            break;
        if (lc->cmd == LC_UUID && lc->cmdsize >= sizeof(struct uuid_command)) {
            uuid = ((const struct uuid_command *)lc)->uuid;
        } else if (lc->cmd == LC_SEGMENT_64 && lc->cmdsize >= sizeof(struct segment_command_64)) {
            const struct segment_command_64 *seg = (const struct segment_command_64 *)lc;
            if (strncmp(seg->segname, "__TEXT", sizeof seg->segname) == 0) {
                vmaddr = seg->vmaddr;
                size = seg->vmsize;
            }
        }
        p += lc->cmdsize;
    }
    /* __TEXT starts at the header: [base, base + vmsize) is the code. */
    cg_code_range_add(base, base + size);
    if (cg_image_known(rec, base))
        return;
    if (path == NULL) {
        Dl_info info;
        if (dladdr(mh, &info) != 0)
            path = info.dli_fname;
    }
    cg_image_add(rec, path, CG_IMAGE_MACHO, mh->filetype == MH_EXECUTE ? CG_IMAGE_FLAG_MAIN : 0,
                 base, size, vmaddr, uuid, uuid != NULL ? 16 : 0);
}

/* Called by dyld for every image loaded now and later, on the loading
 * thread. Registered once per process (dyld has no unregister). */
static void on_add_image(const struct mach_header *mh, intptr_t slide) {
    (void)slide;
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    if (rec != NULL)
        add_macho(rec, mh, NULL);
    cg_writer_leave();
}

static _Atomic int g_dyld_registered;

int cg_images_scan(cg_recorder *rec) {
    uint32_t before = atomic_load(&rec->hdr->image_count);
    uint32_t count = _dyld_image_count();
    for (uint32_t i = 0; i < count; i++)
        add_macho(rec, _dyld_get_image_header(i), _dyld_get_image_name(i));
    int unregistered = 0;
    if (atomic_compare_exchange_strong(&g_dyld_registered, &unregistered, 1))
        _dyld_register_func_for_add_image(on_add_image);
    return (int)(atomic_load(&rec->hdr->image_count) - before);
}
