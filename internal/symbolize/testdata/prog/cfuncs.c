//go:build cgo

#include "cfuncs.h"

// c_crash_here is the C function whose address the tests symbolize.
__attribute__((noinline)) int c_crash_here(int x) {
	volatile int y = x * 7;
	return y + 1;
}
