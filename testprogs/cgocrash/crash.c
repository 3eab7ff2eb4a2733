//go:build cgo && (linux || darwin)

/* crash.c: the C side of testprogs/cgocrash. Built with frame pointers
 * (see crash.go) so the native walk can find the callers. */
#include "crash.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int64_t *g_stamp;

int cgc_stamp_open(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    g_stamp = (volatile int64_t *)p;
    return 0;
}

static void stamp(void) {
    if (g_stamp != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *g_stamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
}

/* The address goes through a volatile so that the compiler cannot see a
 * constant null store and turn it into a trap instruction. */
static volatile uintptr_t g_addr;

__attribute__((noinline)) void cgc_fault_inner(uintptr_t addr) {
    g_addr = addr;
    stamp();
    *(volatile int *)g_addr = 1;
}

__attribute__((noinline)) void cgc_fault_outer(uintptr_t addr) {
    cgc_fault_inner(addr);
    g_addr = 0; /* not a tail call: keep this frame */
}

/* Without frame records, as C built with -fomit-frame-pointer (glibc on
 * x86-64, much distribution C) has none: x29/rbp keeps the cgo wrapper's
 * frame, so a frame-pointer walk from here skips cgc_nofp_outer; the CFI
 * (.eh_frame) does not. GCC only: clang has no
 * per-function optimize attribute (the darwin build keeps frame records,
 * as Apple's ABI requires anyway). */
#if defined(__GNUC__) && !defined(__clang__)
#define CGC_NOFP __attribute__((noinline, optimize("omit-frame-pointer")))
#else
#define CGC_NOFP __attribute__((noinline))
#endif

CGC_NOFP void cgc_nofp_inner(uintptr_t addr) {
    g_addr = addr;
    stamp();
    *(volatile int *)g_addr = 1;
}

CGC_NOFP void cgc_nofp_outer(uintptr_t addr) {
    cgc_nofp_inner(addr);
    g_addr = 0; /* not a tail call: keep this frame */
}

CGC_NOFP void cgc_nofp_leaf(uintptr_t addr) {
    g_addr = addr;
    *(volatile int *)g_addr = 1;
}

CGC_NOFP void cgc_nofp_leaf_outer(uintptr_t addr) {
    stamp();
    cgc_nofp_leaf(addr);
    g_addr = 0;
}

__attribute__((noinline)) void cgc_abort(void) {
    stamp();
    abort();
}

static volatile int g_zero, g_seven = 7;

__attribute__((noinline)) void cgc_fpe(void) {
    stamp();
    /* Both operands volatile: gcc folds 1/x into a compare. */
    volatile int x = g_seven / g_zero; /* SIGFPE FPE_INTDIV on amd64; arm64 gives 0 */
    (void)x;
}

__attribute__((noinline)) void cgc_trap(void) {
    stamp();
    __builtin_trap(); /* ud2 (SIGILL ILL_ILLOPN) on amd64, brk (SIGTRAP) on arm64 */
}

int cgc_bus(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (ftruncate(fd, 16) != 0)
        return -1;
    /* Two pages of a 16-byte file: the second page is past EOF. */
    volatile char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    g_addr = (uintptr_t)(p + page);
    stamp();
    *(volatile char *)g_addr = 1; /* SIGBUS BUS_ADRERR */
    return 0;
}

static void *fault_thread(void *arg) {
    cgc_fault_outer((uintptr_t)arg);
    return NULL;
}

static void *abort_thread(void *arg) {
    (void)arg;
    cgc_abort();
    return NULL;
}

int cgc_pthread_fault(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, fault_thread, (void *)(uintptr_t)CGC_ADDR_PTHREAD) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}

/* Unbounded recursion on a thread Go did not create: the guard page is hit
 * with no alternate signal stack to run a handler on. The volatile buffer
 * and the use after the call keep the compiler from turning it into a loop. */
static int overflow(int n) {
    volatile char pad[256];
    pad[n & 255] = (char)n;
    if (n == INT_MAX) /* never: the stack ends long before; keeps clang's
                       * -Winfinite-recursion quiet under -Werror */
        return n;
    return overflow(n + 1) + pad[(n + 1) & 255];
}

static void *overflow_thread(void *arg) {
    (void)arg;
    return (void *)(uintptr_t)overflow(0);
}

int cgc_pthread_overflow(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, overflow_thread, NULL) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}

int cgc_pthread_abort(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, abort_thread, NULL) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}

/* n threads wait on a barrier built from an atomic counter (pthread
 * barriers are missing on darwin), then all fault at once. */
static int g_waiting;
static int g_n;
static volatile uintptr_t g_herd_addr = CGC_ADDR_THREADS;

static void *herd_thread(void *arg) {
    (void)arg;
    __atomic_add_fetch(&g_waiting, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&g_waiting, __ATOMIC_SEQ_CST) < g_n) {
    }
    *(volatile int *)g_herd_addr = 1;
    return NULL;
}

int cgc_threads_fault(int n) {
    pthread_t t[256];
    if (n > 256)
        n = 256;
    g_n = n;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, herd_thread, NULL) != 0)
            return -1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}

int cgc_fork_child_fault(void) {
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        cgc_fault_outer(CGC_ADDR_FORK);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}
