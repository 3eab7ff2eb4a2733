//go:build cgo && (linux || darwin)

// Package nativetest holds the test entry points into internal/native's C
// core: the C layout table, frame walks over fake stacks, records written
// by hand, a handler fault, a third-party handler, and the CFI test code.
// They need cgo, which test files cannot use, and they must not ship in a
// program that uses crashguard: so they live here, in a package that only
// internal/native's tests import, and nothing of them is linked into
// anything else (a test in internal/native builds a program and checks its
// symbols).
//
// Its C calls internal/native's C functions (cg_unwind, cg_record_claim,
// ...) by name, without importing the Go package (its tests import this
// one). The go command cannot resolve those names when it builds this
// package alone, so the test binary is linked externally, where
// internal/native's objects define them; a binary that linked this
// package without internal/native would fail to link.
package nativetest

/*
#cgo CFLAGS: -std=gnu11 -O2 -Wall -I${SRCDIR}
#include <stdint.h>
#include <stdlib.h>
#include "cg_recorder.h"
#include "cg_signal.h"

int cg_layout_field(int i, const char **name, uint64_t *off, uint64_t *size);
uint32_t cg_test_unwind_here(uint64_t *frames, uint32_t max);
uint64_t cg_test_c_function(void);
uint32_t cg_test_unwind(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t *frames,
                        uint32_t max, uint32_t opts, uint32_t *flags);
int cg_test_safe_read(void *dst, uint64_t src, size_t n);
int cg_test_safe_read_fallback(void);
int64_t cg_test_write_record(uint32_t flags, int complete);
int cg_test_merge_signal_into_mach(uint64_t thread_id, int64_t now_ns, int sig, int code,
                                   uint64_t addr, uint32_t flags);
int cg_test_break_recorder(int sig, int unblock);
int cg_test_count_entries(int sig);
int cg_test_install_foreign(int sig);
int cg_test_foreign_calls(void);
int cg_test_cfi_addrs(uint64_t *out, int max);
*/
import "C"

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// Layout returns the C structs' layout in flightrec.Field form.
func Layout() []flightrec.Field {
	var out []flightrec.Field
	for i := 0; ; i++ {
		var name *C.char
		var off, size C.uint64_t
		if C.cg_layout_field(C.int(i), &name, &off, &size) == 0 {
			return out
		}
		out = append(out, flightrec.Field{Name: C.GoString(name), Offset: int(off), Size: int(size)})
	}
}

// CFunctionPC is the address of a C function (in the test binary's text).
func CFunctionPC() uintptr { return uintptr(C.cg_test_c_function()) }

// UnwindHere walks the stack from a C function's own frame, frame pointers
// only.
func UnwindHere() []uint64 {
	buf := NewCMemory(flightrec.MaxFrames)
	defer buf.Free()
	n := int(C.cg_test_unwind_here(buf.at(0), flightrec.MaxFrames))
	return append([]uint64(nil), buf.Slice()[:n]...)
}

// CMemory is C-allocated memory tests can lay out a fake stack in.
type CMemory struct {
	p     unsafe.Pointer
	words int
}

// NewCMemory allocates words zeroed 8-byte words.
func NewCMemory(words int) *CMemory {
	return &CMemory{p: C.calloc(C.size_t(words), 8), words: words}
}

// Free releases the memory.
func (m *CMemory) Free() { C.free(m.p) }

// Addr is the address of word i.
func (m *CMemory) Addr(i int) uint64 { return uint64(uintptr(m.p)) + 8*uint64(i) }

// Set stores v in word i.
func (m *CMemory) Set(i int, v uint64) { (*[1 << 20]uint64)(m.p)[i] = v }

// Slice is the memory as words.
func (m *CMemory) Slice() []uint64 { return (*[1 << 20]uint64)(m.p)[:m.words:m.words] }

func (m *CMemory) at(i int) *C.uint64_t { return (*C.uint64_t)(unsafe.Add(m.p, 8*i)) }

// Unwind walks without validation (fake stacks hold fake return addresses).
func Unwind(pc, sp, fp, lr uint64, max int) (frames []uint64, truncated bool) {
	frames, flags := unwind(pc, sp, fp, lr, max, 0)
	return frames, flags.Has(flightrec.FlagFramesTruncated)
}

// UnwindValidated walks as the handler does (CG_UNWIND_VALIDATE).
func UnwindValidated(pc, sp, fp, lr uint64, max int) ([]uint64, flightrec.Flags) {
	return unwind(pc, sp, fp, lr, max, C.CG_UNWIND_VALIDATE)
}

func unwind(pc, sp, fp, lr uint64, max int, opts uint32) ([]uint64, flightrec.Flags) {
	buf := NewCMemory(flightrec.MaxFrames)
	defer buf.Free()
	var flags C.uint32_t
	n := int(C.cg_test_unwind(C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), C.uint64_t(lr), buf.at(0), C.uint32_t(max), C.uint32_t(opts), &flags))
	return append([]uint64(nil), buf.Slice()[:n]...), flightrec.Flags(flags)
}

// CodeAddr is 1 for an address in a known code range, 0 not, -1 none known.
func CodeAddr(a uint64) int { return int(C.cg_code_addr(C.uint64_t(a))) }

// SafeRead reads n bytes at addr as the frame walk does; false when any is
// not readable.
func SafeRead(addr uint64, n int) ([]byte, bool) {
	buf := C.malloc(C.size_t(n))
	defer C.free(buf)
	if C.cg_test_safe_read(buf, C.uint64_t(addr), C.size_t(n)) != 0 {
		return nil, false
	}
	return C.GoBytes(buf, C.int(n)), true
}

// SafeReadFallback is 1 once the safe read has fallen back from
// process_vm_readv to the pipe, 0 while it has not, -1 off Linux.
func SafeReadFallback() int { return int(C.cg_test_safe_read_fallback()) }

// AttachRecorder maps a recorder without installing any handler.
func AttachRecorder(path string, textLo, textHi uintptr) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if rc := C.cg_recorder_attach(C.int(f.Fd()), C.uint64_t(st.Size()), C.uint64_t(textLo), C.uint64_t(textHi)); rc != 0 {
		return syscall.Errno(rc)
	}
	return nil
}

// DetachRecorder unmaps the recorder AttachRecorder mapped.
func DetachRecorder() error {
	if rc := C.cg_recorder_detach(); rc != 0 {
		return syscall.Errno(rc)
	}
	return nil
}

// WriteRecord claims a record with the given flags and, if complete,
// completes it; it returns the record's sequence number, or -1.
func WriteRecord(flags flightrec.Flags, complete bool) int64 {
	return int64(C.cg_test_write_record(C.uint32_t(flags), cBool(complete)))
}

// RecordMach records a Mach exception as the Mach exception thread does.
func RecordMach(tid uint64, exc int32, code, subcode int64, regs []uint64, pc, sp, fp, lr uint64) int {
	var p *C.uint64_t
	if len(regs) > 0 {
		m := NewCMemory(len(regs))
		defer m.Free()
		copy(m.Slice(), regs)
		p = m.at(0)
	}
	return int(C.cg_record_mach_exception(C.uint64_t(tid), C.int32_t(exc), C.int64_t(code), C.int64_t(subcode),
		p, C.uint32_t(len(regs)), C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), C.uint64_t(lr)))
}

// MergeSignal completes a Mach record with a signal's facts, as the darwin
// signal handler does; false when there was no record to complete.
func MergeSignal(tid uint64, nowNS int64, sig, code int, addr uint64, flags flightrec.Flags) bool {
	return C.cg_test_merge_signal_into_mach(C.uint64_t(tid), C.int64_t(nowNS), C.int(sig), C.int(code), C.uint64_t(addr), C.uint32_t(flags)) != 0
}

// RecorderEntryPoints returns C function pointers to the Mach record and the
// signal merge (MergeSignal's), for the model of xnu in
// internal/native/machsim.
func RecorderEntryPoints() (record, merge unsafe.Pointer) {
	return unsafe.Pointer(C.cg_record_mach_exception), unsafe.Pointer(C.cg_test_merge_signal_into_mach)
}

// KnownFatal runs the handler's "known fatal" rule (cg_known_fatal).
func KnownFatal(sig syscall.Signal, code int, raisedBySelf, goCode, armed bool) bool {
	return C.cg_known_fatal(C.int(sig), C.int(code), cBool(raisedBySelf), cBool(goCode), cBool(armed)) != 0
}

// DarwinCPUFault runs cg_darwin_cpu_fault for SIGSEGV.
func DarwinCPUFault(machLayer, merged bool) bool {
	return C.cg_darwin_cpu_fault(C.int(C.SIGSEGV), cBool(machLayer), cBool(merged)) != 0
}

// BreakRecorder makes the signal handler fault inside its own recording
// code at the next fault (see cg_test_break_recorder); with unblock, the
// handler runs with sig unblocked, so that fault re-enters it. Install
// without the Mach layer first.
func BreakRecorder(sig syscall.Signal, unblock bool) error {
	if C.cg_test_break_recorder(C.int(sig), cBool(unblock)) != 0 {
		return errors.New("nativetest: no recorder attached, or sigaction failed")
	}
	return nil
}

// HandlerEntry is the line CountHandlerEntries writes to stderr at each
// entry into the handler.
const HandlerEntry = "nativetest: handler entry\n"

// CountHandlerEntries puts a handler on top of sig's that writes
// HandlerEntry to stderr at each entry and calls it with sig unblocked.
func CountHandlerEntries(sig syscall.Signal) error {
	if C.cg_test_count_entries(C.int(sig)) != 0 {
		return errors.New("nativetest: sigaction failed")
	}
	return nil
}

// ThreadID is the calling thread's id as the recorder writes it.
func ThreadID() uint64 { return uint64(C.cg_thread_id()) }

// NowNS is the recorder's clock.
func NowNS() int64 { return int64(C.cg_now_ns()) }

// SuppressMode is the handler's suppression mode.
func SuppressMode() int { return int(C.cg_suppress_mode()) }

// InstallForeign installs a chaining third-party handler for sig on top of
// whatever is installed.
func InstallForeign(sig syscall.Signal) error {
	if C.cg_test_install_foreign(C.int(sig)) != 0 {
		return errors.New("nativetest: sigaction failed")
	}
	return nil
}

// ForeignCalls counts the calls of InstallForeign's handler.
func ForeignCalls() int { return int(C.cg_test_foreign_calls()) }

// CFICode holds the addresses in cfi_code.c.
type CFICode struct {
	Leaf, LeafPC, MidRet, OuterRet, NocfiRet, BaseRet, StaleRet1, StaleRet2, StartPC uint64
	// No CFI, no frame pointer: the scan's.
	ScanLeafPC, ScanMidRet, ScanPltRet uint64
}

// CFIAddrs returns the CFI test code's addresses; ok is false where there
// is none (only linux/amd64 has it).
func CFIAddrs() (c CFICode, ok bool) {
	var a [16]C.uint64_t
	if C.cg_test_cfi_addrs(&a[0], C.int(len(a))) == 0 {
		return c, false
	}
	return CFICode{
		Leaf: uint64(a[0]), LeafPC: uint64(a[1]), MidRet: uint64(a[2]), OuterRet: uint64(a[3]),
		NocfiRet: uint64(a[4]), BaseRet: uint64(a[5]), StaleRet1: uint64(a[6]), StaleRet2: uint64(a[7]),
		StartPC: uint64(a[8]), ScanLeafPC: uint64(a[9]), ScanMidRet: uint64(a[10]), ScanPltRet: uint64(a[11]),
	}, true
}

func cBool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
