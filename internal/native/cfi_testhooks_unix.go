//go:build cgo && (linux || darwin)

package native

// Test entry points for the CFI unwind tests (cfi_test.go); see
// testhooks_unix.go for why they are not in a test file.

/*
#include <stdint.h>
int cg_test_cfi_addrs(uint64_t *out, int max);
*/
import "C"

// cfiTestCode holds the addresses in cg_testcfi.c.
type cfiTestCode struct {
	leaf, leafPC, midRet, outerRet, nocfiRet, baseRet, staleRet1, staleRet2, startPC uint64
	// No CFI, no frame pointer: the scan's.
	scanLeafPC, scanMidRet, scanPltRet uint64
}

// cfiTestAddrs returns the test code's addresses; ok is false where there is
// none (only linux/amd64 has it).
func cfiTestAddrs() (c cfiTestCode, ok bool) {
	var a [16]C.uint64_t
	if C.cg_test_cfi_addrs(&a[0], C.int(len(a))) == 0 {
		return c, false
	}
	return cfiTestCode{
		leaf: uint64(a[0]), leafPC: uint64(a[1]), midRet: uint64(a[2]), outerRet: uint64(a[3]),
		nocfiRet: uint64(a[4]), baseRet: uint64(a[5]), staleRet1: uint64(a[6]), staleRet2: uint64(a[7]),
		startPC: uint64(a[8]), scanLeafPC: uint64(a[9]), scanMidRet: uint64(a[10]), scanPltRet: uint64(a[11]),
	}, true
}
