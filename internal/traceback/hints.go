package traceback

import "unsafe"

// fatalStrings are the messages whose addresses FatalStrings reports:
// those of the fatal errors a program can run into, not the runtime's
// checks of its own invariants.
var fatalStrings = [...]string{
	msgMapWrites, msgMapRead, msgMapIter, msgMapClone, msgMapSmall,
	msgDeadlock, msgNoGoroutines, msgStackOverflow, msgOOM, msgOOMRuntime,
	msgFault, msgUnexpectedSig, msgMutexUnlock, msgRWUnlock, msgRWRUnlock,
	msgMutexState, msgNilFunc,
}

// FatalStrings returns the addresses, in this process, of the texts of the
// runtime fatal errors that the SetCrashOutput copy leaves out, for
// Hints.Strings. Call it in the process that may crash and keep the result
// with the crash output (crashguard writes it to the run file at Install).
//
// It works because the linker stores each distinct string constant once
// for the whole program: the "concurrent map writes" passed to fatal by the
// runtime and the one in this package are the same bytes at the same
// address, which the traceback prints as the throw's first argument:
//
//	internal/runtime/maps.fatal({0x53fb96?, 0x0?})
//
// The addresses are valid for this run only (ASLR moves them when the
// executable is position independent).
func FatalStrings() map[uint64]string {
	m := make(map[uint64]string, len(fatalStrings))
	for _, s := range fatalStrings {
		m[uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))] = s
	}
	return m
}
