//go:build cgo

package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include "cfuncs.h"

static uintptr_t c_addr(void) { return (uintptr_t)&c_crash_here; }

static uintptr_t lib_addr(const char *path) {
	void *h = dlopen(path, RTLD_NOW);
	if (h == NULL) return 0;
	return (uintptr_t)dlsym(h, "lib_func");
}
*/
import "C"

import "unsafe"

func init() {
	cAddrs = func(lib string) (uint64, uint64) {
		_ = C.c_crash_here(1)
		var l uint64
		if lib != "" {
			p := C.CString(lib)
			defer C.free(unsafe.Pointer(p))
			l = uint64(C.lib_addr(p))
		}
		return uint64(C.c_addr()), l
	}
}
