//go:build cgo && (linux || darwin)

/* inapp.c: a second C function that faults on a pthread, so that a test can
 * tell two C crashes of the program apart by their in-app frames. Built with
 * frame pointers like crash.c (the package's CFLAGS). */
#include <pthread.h>
#include <stdint.h>

static volatile uintptr_t g_other_addr;

__attribute__((noinline)) void cgc_other_fault(uintptr_t addr) {
    g_other_addr = addr;
    *(volatile long *)g_other_addr = 2;
}

static void *other_thread(void *arg) {
    cgc_other_fault((uintptr_t)arg);
    return NULL;
}

int cgc_pthread_other_fault(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, other_thread, (void *)(uintptr_t)0x68) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}
