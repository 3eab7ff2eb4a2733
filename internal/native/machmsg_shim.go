//go:build cgo

package native

// Thin Go wrappers over the Mach message codec in cg_machmsg.c, so that
// machmsg_shim_test.go (a _test.go file cannot use cgo itself) can feed it
// bytes laid out as xnu lays them out, on Linux as on darwin. Nothing in the
// crash path uses them: on darwin the exception thread calls the C directly.
//
// Every call copies its input into C memory of exactly the input's size
// (so a sanitizer build, go test -asan, sees any read past the end) and
// copies results back before freeing it; no Go pointer is ever stored by C.

/*
#include <stdlib.h>
#include "cg_machmsg.h"
*/
import "C"

import "unsafe"

// Decode results, as cg_machmsg.h defines them.
const (
	machStatusOK       = int(C.CG_MACH_OK)
	machStatusNoHeader = int(C.CG_MACH_NO_HEADER)
	machStatusBadID    = int(C.CG_MACH_BAD_ID)
	machStatusBadArgs  = int(C.CG_MACH_BAD_ARGS)
)

// machRequest mirrors cg_mach_request; State is a copy of the old_state
// words as bytes (nil when the message has none).
type machRequest struct {
	Bits, Size, ReplyPort, LocalPort uint32
	ID                               int32
	ThreadPort, TaskPort             uint32
	Exception                        int32
	CodeCount                        uint32
	Code                             [2]int64
	Flavor                           int32
	StateCount, StateOffset          uint32
	State                            []byte
}

// machForward mirrors cg_mach_forward.
type machForward struct {
	DestPort, ReplyPort, Behavior, ThreadPort, TaskPort uint32
	Exception                                           int32
	CodeCount                                           uint32
	Code                                                [2]int64
	Flavor                                              int32
	StateCount                                          uint32
	State                                               []byte // at least 4*StateCount bytes
}

// machReply mirrors cg_mach_reply.
type machReply struct {
	ID, RetCode, Flavor     int32
	StateCount, StateOffset uint32
	State                   []byte
}

// cCopy returns a malloc'd copy of b (nil for an empty b); free it with
// C.free.
func cCopy(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return C.CBytes(b)
}

func goBytes(p unsafe.Pointer, n int) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(p, C.int(n))
}

// machDecodeRequest runs cg_mach_decode_request over msg (len(msg) being
// the received msgh_size) and returns the decoded request and the status.
func machDecodeRequest(msg []byte) (machRequest, int) {
	buf := cCopy(msg)
	defer C.free(buf)
	var r C.cg_mach_request
	status := int(C.cg_mach_decode_request(buf, C.size_t(len(msg)), &r))
	return machRequest{
		Bits: uint32(r.msgh_bits), Size: uint32(r.msgh_size),
		ReplyPort: uint32(r.reply_port), LocalPort: uint32(r.local_port),
		ID:         int32(r.id),
		ThreadPort: uint32(r.thread_port), TaskPort: uint32(r.task_port),
		Exception: int32(r.exception), CodeCount: uint32(r.code_count),
		Code:   [2]int64{int64(r.code[0]), int64(r.code[1])},
		Flavor: int32(r.flavor), StateCount: uint32(r.state_count),
		StateOffset: uint32(r.state_offset),
		State:       goBytes(unsafe.Pointer(r.state), 4*int(r.state_count)),
	}, status
}

// cRequest fills a cg_mach_request from req; the state lives in C memory
// the caller frees.
func cRequest(req machRequest) (C.cg_mach_request, unsafe.Pointer) {
	state := cCopy(req.State)
	return C.cg_mach_request{
		msgh_bits: C.uint32_t(req.Bits), msgh_size: C.uint32_t(req.Size),
		reply_port: C.uint32_t(req.ReplyPort), local_port: C.uint32_t(req.LocalPort),
		id:          C.int32_t(req.ID),
		thread_port: C.uint32_t(req.ThreadPort), task_port: C.uint32_t(req.TaskPort),
		exception: C.int32_t(req.Exception), code_count: C.uint32_t(req.CodeCount),
		code:   [2]C.int64_t{C.int64_t(req.Code[0]), C.int64_t(req.Code[1])},
		flavor: C.int32_t(req.Flavor), state_count: C.uint32_t(req.StateCount),
		state_offset: C.uint32_t(req.StateOffset), state: state,
	}, state
}

// encodeInto runs an encoder into a C buffer of capacity bytes and returns
// the bytes written (nil when the encoder returned 0).
func encodeInto(capacity int, enc func(out unsafe.Pointer, capacity C.size_t) C.size_t) []byte {
	out := C.malloc(C.size_t(capacity + 1)) // malloc(0) may be NULL
	defer C.free(out)
	n := int(enc(out, C.size_t(capacity)))
	return goBytes(out, n)
}

// machEncodeReply runs cg_mach_encode_reply into a buffer of capacity bytes.
func machEncodeReply(req machRequest, retcode int32, capacity int) []byte {
	r, state := cRequest(req)
	defer C.free(state)
	return encodeInto(capacity, func(out unsafe.Pointer, c C.size_t) C.size_t {
		return C.cg_mach_encode_reply(&r, C.int32_t(retcode), out, c)
	})
}

// machEncodeReplyState runs cg_mach_encode_reply_state.
func machEncodeReplyState(req machRequest, retcode, flavor int32, state []byte, stateCount uint32, capacity int) []byte {
	r, rstate := cRequest(req)
	defer C.free(rstate)
	s := cCopy(state)
	defer C.free(s)
	return encodeInto(capacity, func(out unsafe.Pointer, c C.size_t) C.size_t {
		return C.cg_mach_encode_reply_state(&r, C.int32_t(retcode), C.int32_t(flavor), s,
			C.uint32_t(stateCount), out, c)
	})
}

// machStatusRetCode runs cg_mach_status_retcode.
func machStatusRetCode(status int) int32 {
	return int32(C.cg_mach_status_retcode(C.int(status)))
}

// machForwardID runs cg_mach_forward_id.
func machForwardID(behavior uint32) int32 {
	return int32(C.cg_mach_forward_id(C.uint32_t(behavior)))
}

// machEncodeForward runs cg_mach_encode_forward into a buffer of capacity
// bytes.
func machEncodeForward(f machForward, capacity int) []byte {
	state := cCopy(f.State)
	defer C.free(state)
	cf := C.cg_mach_forward{
		dest_port: C.uint32_t(f.DestPort), reply_port: C.uint32_t(f.ReplyPort),
		behavior:    C.uint32_t(f.Behavior),
		thread_port: C.uint32_t(f.ThreadPort), task_port: C.uint32_t(f.TaskPort),
		exception: C.int32_t(f.Exception), code_count: C.uint32_t(f.CodeCount),
		code:   [2]C.int64_t{C.int64_t(f.Code[0]), C.int64_t(f.Code[1])},
		flavor: C.int32_t(f.Flavor), state_count: C.uint32_t(f.StateCount), state: state,
	}
	return encodeInto(capacity, func(out unsafe.Pointer, c C.size_t) C.size_t {
		return C.cg_mach_encode_forward(&cf, out, c)
	})
}

// machDecodeReply runs cg_mach_decode_reply over msg, a reply to a request
// with id requestID.
func machDecodeReply(msg []byte, requestID int32) (machReply, int) {
	buf := cCopy(msg)
	defer C.free(buf)
	var r C.cg_mach_reply
	status := int(C.cg_mach_decode_reply(buf, C.size_t(len(msg)), C.int32_t(requestID), &r))
	return machReply{
		ID: int32(r.id), RetCode: int32(r.retcode), Flavor: int32(r.flavor),
		StateCount: uint32(r.state_count), StateOffset: uint32(r.state_offset),
		State: goBytes(unsafe.Pointer(r.state), 4*int(r.state_count)),
	}, status
}
