//go:build cgo && (linux || darwin)

// Package machsim runs crashguard's Mach exception server
// (internal/native/cg_mach_server_darwin.c, the file darwin builds, compiled here
// unchanged) against a model of xnu's Mach IPC and exception delivery, so
// that its behavior can be tested on Linux: ports as queues with counted
// rights, exception_triage's order (thread port, task port, then the host's
// signal on the same thread), the kernel's untimed wait for a reply, and
// MIG's checks of that reply. See ipc.c for what is modelled and from
// which xnu sources.
//
// Only tests import it (internal/native's TestMachSim*), so it is never
// linked into a program. The model is one per process: a test that uses it
// runs in its own child process.
package machsim

/*
#cgo CFLAGS: -std=gnu11 -O2 -Wall -Wextra -DCG_MACHSIM -I${SRCDIR}
#cgo linux LDFLAGS: -lpthread
#include <stdlib.h>
#include "machsim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// Behaviors and codes, as xnu defines them.
const (
	ExcBadAccess           = 1
	KernInvalidAddress     = 1
	KernProtectionFailure  = 2
	ExceptionDefault       = 1
	ExceptionState         = 2
	ExceptionStateIdentity = 3
	MachExceptionCodes     = -0x80000000 // as int32
	MachRcvHeaderError     = 0x1000400b
	MachMsgIPCSpace        = 0x2000
)

// NativeFlavor is the thread state flavor of this machine as darwin numbers
// it (ARM_THREAD_STATE64 on arm64, x86_THREAD_STATE64 otherwise).
var NativeFlavor = int32(C.machsim_native_flavor())

// SigAction is what the process's signal handler does with the signal the
// host level posts.
type SigAction int

// Signal handler outcomes.
const (
	SigRecover SigAction = C.MACHSIM_SIG_RECOVER // a recovered Go panic
	SigFatal   SigAction = C.MACHSIM_SIG_FATAL   // the process dies
)

// PrevMode is how the displaced handler answers.
type PrevMode int

// Displaced handler behaviors.
const (
	PrevSuccess PrevMode = C.MACHSIM_PREV_SUCCESS
	PrevFailure PrevMode = C.MACHSIM_PREV_FAILURE
	PrevNoReply PrevMode = C.MACHSIM_PREV_NOREPLY
	PrevHang    PrevMode = C.MACHSIM_PREV_HANG
	PrevBadID   PrevMode = C.MACHSIM_PREV_BAD_ID
	PrevBadSize PrevMode = C.MACHSIM_PREV_BAD_SIZE
)

// Result is how a fault ended.
type Result int

// Fault results.
const (
	Pending         Result = C.MACHSIM_PENDING
	Resumed         Result = C.MACHSIM_RESUMED
	SignalRecovered Result = C.MACHSIM_SIGNAL_RECOVERED
	Died            Result = C.MACHSIM_DIED
	ChildSignal     Result = C.MACHSIM_CHILD_SIGNAL
	Refault         Result = C.MACHSIM_REFAULT
)

func (r Result) String() string {
	switch r {
	case Resumed:
		return "resumed"
	case SignalRecovered:
		return "signal, recovered"
	case Died:
		return "died"
	case ChildSignal:
		return "child's signal"
	case Refault:
		return "re-faults forever"
	}
	return "pending"
}

// Outcome describes a finished fault.
type Outcome struct {
	Result   Result
	Level    int    // Resumed: 0 thread port, 1 task port
	Signal   int    // the signal posted at the host level, 0 if none
	Merged   bool   // the signal found the Mach record
	Rejected int    // replies the kernel rejected on the way
	PC       uint64 // the thread's pc when it resumed
}

// ErrTimeout is returned when the model did not finish in time: the
// server hung somewhere a real kernel would have waited forever.
var ErrTimeout = errors.New("machsim: no answer before the deadline (the server hangs)")

// Reset starts a fresh model. record and merge are C function pointers to
// the real recorder's cg_record_mach_exception and the signal handler's
// merge (nativetest.RecorderEntryPoints; nil: not called).
func Reset(record, merge unsafe.Pointer) { C.machsim_reset(record, merge) }

// NewThread adds a thread to task (0: this process) with system id tid and
// program counter pc.
func NewThread(task int, tid, pc uint64) int {
	return int(C.machsim_thread_new(C.int(task), C.uint64_t(tid), C.uint64_t(pc)))
}

// PrevHandler registers a displaced EXC_BAD_ACCESS handler on task 0 (call
// before Install).
func PrevHandler(behavior, flavor int32, mode PrevMode) {
	C.machsim_prev_handler(C.int32_t(behavior), C.int32_t(flavor), C.int(mode))
}

// SetHardened turns on the hardened-process rule for task 0.
func SetHardened(on bool) { C.machsim_set_hardened(cBool(on)) }

// Fork makes a child task that inherits task 0's exception ports; with
// immovable its task and thread ports cannot be sent on (read ports of
// another task).
func Fork(immovable bool) int { return int(C.machsim_fork(cBool(immovable))) }

// AfterForkChild runs the server's fork-child handler in task.
func AfterForkChild(task int) { C.machsim_after_fork_child(C.int(task)) }

// Install runs the server's cg_mach_install. It returns the install status
// (1 installed) and, on failure, the call and its kern_return_t.
func Install() (int, string, int32) {
	var kr C.int32_t
	var what *C.char
	st := int(C.machsim_install(&kr, &what))
	return st, C.GoString(what), int32(kr)
}

// CrashPortNull runs the server's cg_mach_set_crash_port_null.
func CrashPortNull(on bool) int32 { return int32(C.machsim_crash_port_null(cBool(on))) }

// ServingEnded reports whether the server's loop has ended.
func ServingEnded() bool { return C.machsim_serving_ended() != 0 }

// Fault is an exception raised on a model thread.
type Fault int

// StartFault raises exc with code/subcode on thread, which then waits as a
// faulting thread does; sig says what its signal handler does.
func StartFault(thread int, exc int32, code, subcode int64, sig SigAction, sigFlags uint32) Fault {
	return Fault(C.machsim_fault_start(C.int(thread), C.int32_t(exc), C.int64_t(code),
		C.int64_t(subcode), C.int(sig), C.uint32_t(sigFlags)))
}

// Wait waits for the fault to end, at most d.
func (f Fault) Wait(d time.Duration) (Outcome, error) {
	var o C.machsim_outcome
	if C.machsim_fault_wait(C.int(f), C.int(d.Milliseconds()), &o) == 0 {
		return Outcome{}, ErrTimeout
	}
	return Outcome{
		Result: Result(o.result), Level: int(o.level), Signal: int(o.sig),
		Merged: o.merged != 0, Rejected: int(o.rejected), PC: uint64(o.pc),
	}, nil
}

// InjectServerFault makes the serving thread fault the next time it reads
// a thread's state (as a crashing stack walk would).
func InjectServerFault(sig SigAction, sigFlags uint32) {
	C.machsim_inject_server_fault(C.int(sig), C.uint32_t(sigFlags))
}

// InjectReceiveErrors makes the serving thread's next n receives fail with
// code.
func InjectReceiveErrors(n int, code int32) {
	C.machsim_inject_receive_errors(C.int(n), C.int32_t(code))
}

// WaitDeath waits until the process died and returns the signal, or 0.
func WaitDeath(d time.Duration) int { return int(C.machsim_wait_death(C.int(d.Milliseconds()))) }

// WaitIdle waits until the serving thread waits on an empty port (or has
// ended): everything it was doing is done.
func WaitIdle(d time.Duration) bool { return C.machsim_wait_idle(C.int(d.Milliseconds())) != 0 }

// WaitServingEnded waits until the serving loop ended.
func WaitServingEnded(d time.Duration) bool {
	return C.machsim_wait_serving_ended(C.int(d.Milliseconds())) != 0
}

// Handler says who gets task's EXC_BAD_ACCESS now.
type Handler int

// Task-level handlers.
const (
	HandlerNone   Handler = 0
	HandlerPrev   Handler = 1 // the displaced handler
	HandlerServer Handler = 2 // another live port: the server's
	HandlerDead   Handler = 3 // a dead port
)

// TaskHandler returns task's EXC_BAD_ACCESS handler.
func TaskHandler(task int) Handler { return Handler(C.machsim_task_handler(C.int(task))) }

// Rights counts the rights in the process's IPC space and in messages.
func Rights() int64 { return int64(C.machsim_rights()) }

// Records counts the server's cg_record_mach_exception calls.
func Records() int { return int(C.machsim_records()) }

// ServerReplies counts the replies the kernel received from the server.
func ServerReplies() int { return int(C.machsim_server_replies()) }

// PrevSeen describes what the displaced handler received last.
type PrevSeen struct {
	Count      int
	ID, Flavor int32
	StateCount uint32
	Subcode    int64
}

// Prev returns what the displaced handler has seen.
func Prev() PrevSeen {
	var id, flavor C.int32_t
	var n C.uint32_t
	var c1 C.int64_t
	count := int(C.machsim_prev_seen(&id, &flavor, &n, &c1))
	return PrevSeen{Count: count, ID: int32(id), Flavor: int32(flavor), StateCount: uint32(n), Subcode: int64(c1)}
}

// Violations returns the rules the server broke (nil if none): a reply the
// kernel rejects, a right released that it did not hold, an EXC_CRASH
// registration, a signal left blocked on a faulting thread.
func Violations() error {
	buf := C.malloc(4096)
	defer C.free(buf)
	n := int(C.machsim_violations((*C.char)(buf), 4096))
	if n == 0 {
		return nil
	}
	return fmt.Errorf("machsim: %d violations:\n%s", n, strings.TrimSpace(C.GoString((*C.char)(buf))))
}

// ThreadPC returns a model thread's program counter.
func ThreadPC(thread int) uint64 { return uint64(C.machsim_thread_pc(C.int(thread))) }

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
