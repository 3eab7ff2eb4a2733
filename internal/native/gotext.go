package native

import (
	"reflect"
	"runtime"
)

// goText returns the runtime bounds [start, end) of the executable's Go
// text: the range for which runtime.FuncForPC finds a function. Faults
// there are in Go code (maybe a recoverable panic) and get the handler's
// cheap path; everything else (C code, libc, the vDSO) is native.
//
// The bounds are found from FuncForPC's documented contract alone (nil
// outside any Go function): the runtime answers non-nil exactly for pcs in
// the module's [text, etext), so the predicate is monotone on each side of
// a known Go pc, and an exponential probe plus a binary search finds each
// edge in ~2x40 calls. In a cgo executable (always linked externally) the C
// objects are outside that range. Plugins add modules far away in the
// address space; the probes never step further than twice the text size
// past an edge, so they do not reach them.
func goText() (start, end uintptr) {
	pc := reflect.ValueOf(goText).Pointer()
	in := func(p uintptr) bool { return runtime.FuncForPC(p) != nil }
	if !in(pc) {
		return 0, 0
	}
	// Upper edge: the first pc above that is not in Go text.
	lo, step := pc, uintptr(4096)
	for in(lo+step) && step < 1<<40 {
		lo, step = lo+step, step*2
	}
	hi := lo + step
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if in(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	end = hi
	// Lower edge: the lowest pc in Go text.
	hi, step = pc, 4096
	for step < hi && in(hi-step) && step < 1<<40 {
		hi, step = hi-step, step*2
	}
	if step >= hi {
		lo = 0
	} else {
		lo = hi - step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if in(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	start = hi
	return start, end
}
