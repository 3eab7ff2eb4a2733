//go:build cgo && (linux || darwin)

package native

// Test entry points into the C core. They live in a non-test file because
// test files cannot use cgo; nothing in the package calls them.

/*
#include <stdint.h>
#include <stdlib.h>
#include "cg_recorder.h"
#include "cg_signal.h"

int cg_layout_field(int i, const char **name, uint64_t *off, uint64_t *size);
uint32_t cg_test_unwind_here(uint64_t *frames, uint32_t max);
uint64_t cg_test_c_function(void);
uint32_t cg_test_unwind(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t *frames,
                        uint32_t max, uint32_t opts, uint32_t *flags);
int cg_test_code_addr(uint64_t a);
int cg_test_safe_read(void *dst, uint64_t src, size_t n);
int64_t cg_test_write_record(uint32_t flags, int complete);
int cg_test_install_foreign(int sig);
int cg_test_foreign_calls(void);
*/
import "C"

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// cLayout returns the C structs' layout in flightrec.Field form.
func cLayout() []flightrec.Field {
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

// cFunctionPC is the address of a C function of this package.
func cFunctionPC() uintptr { return uintptr(C.cg_test_c_function()) }

func unwindHere() []uint64 {
	buf := newCMemory(flightrec.MaxFrames)
	defer buf.free()
	n := int(C.cg_test_unwind_here(buf.at(0), flightrec.MaxFrames))
	return append([]uint64(nil), buf.slice()[:n]...)
}

// cMemory is C-allocated memory tests can lay out a fake stack in.
type cMemory struct {
	p     unsafe.Pointer
	words int
}

func newCMemory(words int) *cMemory {
	return &cMemory{p: C.calloc(C.size_t(words), 8), words: words}
}

func (m *cMemory) free()                { C.free(m.p) }
func (m *cMemory) addr(i int) uint64    { return uint64(uintptr(m.p)) + 8*uint64(i) }
func (m *cMemory) set(i int, v uint64)  { (*[1 << 20]uint64)(m.p)[i] = v }
func (m *cMemory) slice() []uint64      { return (*[1 << 20]uint64)(m.p)[:m.words:m.words] }
func (m *cMemory) at(i int) *C.uint64_t { return (*C.uint64_t)(unsafe.Add(m.p, 8*i)) }

// unwind walks without validation (fake stacks hold fake return addresses).
func unwind(pc, sp, fp, lr uint64, max int) (frames []uint64, truncated bool) {
	frames, flags := unwindOpts(pc, sp, fp, lr, max, 0)
	return frames, flags.Has(flightrec.FlagFramesTruncated)
}

// unwindValidated walks as the handler does (CG_UNWIND_VALIDATE).
func unwindValidated(pc, sp, fp, lr uint64, max int) ([]uint64, flightrec.Flags) {
	return unwindOpts(pc, sp, fp, lr, max, 1)
}

func unwindOpts(pc, sp, fp, lr uint64, max int, opts uint32) ([]uint64, flightrec.Flags) {
	buf := newCMemory(flightrec.MaxFrames)
	defer buf.free()
	var flags C.uint32_t
	n := int(C.cg_test_unwind(C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), C.uint64_t(lr), buf.at(0), C.uint32_t(max), C.uint32_t(opts), &flags))
	return append([]uint64(nil), buf.slice()[:n]...), flightrec.Flags(flags)
}

// codeAddr: 1 in a known code range, 0 not, -1 none known.
func codeAddr(a uint64) int { return int(C.cg_test_code_addr(C.uint64_t(a))) }

func safeRead(addr uint64, n int) ([]byte, bool) {
	buf := C.malloc(C.size_t(n))
	defer C.free(buf)
	if C.cg_test_safe_read(buf, C.uint64_t(addr), C.size_t(n)) != 0 {
		return nil, false
	}
	return C.GoBytes(buf, C.int(n)), true
}

// attachRecorder maps a recorder without installing any handler.
func attachRecorder(path string, textLo, textHi uintptr) error {
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

func detachRecorder() error {
	if rc := C.cg_recorder_detach(); rc != 0 {
		return syscall.Errno(rc)
	}
	return nil
}

func writeTestRecord(flags flightrec.Flags, complete bool) int64 {
	c := 0
	if complete {
		c = 1
	}
	return int64(C.cg_test_write_record(C.uint32_t(flags), C.int(c)))
}

func recordMach(tid uint64, exc int32, code, subcode int64, regs []uint64, pc, sp, fp, lr uint64) int {
	var p *C.uint64_t
	if len(regs) > 0 {
		m := newCMemory(len(regs))
		defer m.free()
		copy(m.slice(), regs)
		p = m.at(0)
	}
	return int(C.cg_record_mach_exception(C.uint64_t(tid), C.int32_t(exc), C.int64_t(code), C.int64_t(subcode),
		p, C.uint32_t(len(regs)), C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), C.uint64_t(lr)))
}

func mergeSignal(tid uint64, nowNS int64, sig, code int, addr uint64, flags flightrec.Flags) bool {
	return C.cg_merge_signal_into_mach(C.uint64_t(tid), C.int64_t(nowNS), C.int(sig), C.int(code), C.uint64_t(addr), C.uint32_t(flags)) != 0
}

func knownFatal(sig syscall.Signal, code int, raisedBySelf, goCode, armed bool) bool {
	b := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	return C.cg_known_fatal(C.int(sig), C.int(code), b(raisedBySelf), b(goCode), b(armed)) != 0
}

func setHandlerFault(mode int) { C.cg_test_set_handler_fault(C.int(mode)) }

func threadID() uint64 { return uint64(C.cg_thread_id()) }

func nowNS() int64 { return int64(C.cg_now_ns()) }

func suppressModeForTest() int { return int(C.cg_suppress_mode()) }

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// installForeign installs a chaining third-party handler for sig on top of
// whatever is installed.
func installForeign(sig syscall.Signal) error {
	if C.cg_test_install_foreign(C.int(sig)) != 0 {
		return errors.New("sigaction failed")
	}
	return nil
}

func foreignCalls() int { return int(C.cg_test_foreign_calls()) }
