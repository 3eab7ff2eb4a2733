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

/* A library of the program's own, loaded at run time: cgc_lib_open dlopens
 * it, cgc_lib_fault calls its cglib_fault (which faults) on a pthread. */
#include <dlfcn.h>

static void (*g_lib_fault)(void);

int cgc_lib_open(const char *path) {
    void *h = dlopen(path, RTLD_NOW);
    if (h == NULL)
        return -1;
    g_lib_fault = (void (*)(void))dlsym(h, "cglib_fault");
    return g_lib_fault != NULL ? 0 : -2;
}

static void *lib_thread(void *arg) {
    (void)arg;
    g_lib_fault();
    return NULL;
}

int cgc_lib_fault(void) {
    pthread_t t;
    if (g_lib_fault == NULL || pthread_create(&t, NULL, lib_thread, NULL) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}
