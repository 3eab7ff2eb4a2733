//go:build cgo

package native

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Messages are laid out here byte by byte as xnu lays them out (MIG,
// #pragma pack(4), host byte order = little-endian), from the numbers in
// xnu osfmk/mach/mach_exc.defs, <mach/message.h> and <mach/ndr.h>,
// independently of the C structs under test.

const (
	tReplyPort  = 0x1503 // the kernel's send-once reply right, as named in our space
	tLocalPort  = 0x2a03 // our exception port
	tThreadPort = 0x3b07
	tTaskPort   = 0x0203 // mach_task_self()

	// Received request bits: remote = MACH_MSG_TYPE_PORT_SEND_ONCE (18),
	// local = MACH_MSG_TYPE_PORT_SEND (17), complex for 2405/2407.
	tBitsSimple  = 0x00001112
	tBitsComplex = 0x80001112

	tFaultAddr = int64(0x0000_7fff_dead_bee8) // needs 64 bits (KSCrash issue 810)
)

var ndrRecord = []byte{0, 0, 0, 0, 1, 0, 0, 0} // NDR_record: int_rep = little-endian

type msgBuilder struct{ bytes.Buffer }

func (m *msgBuilder) u32(v uint32) *msgBuilder {
	_ = binary.Write(&m.Buffer, binary.LittleEndian, v)
	return m
}
func (m *msgBuilder) i32(v int32) *msgBuilder { return m.u32(uint32(v)) }
func (m *msgBuilder) i64(v int64) *msgBuilder {
	_ = binary.Write(&m.Buffer, binary.LittleEndian, v)
	return m
}
func (m *msgBuilder) raw(b []byte) *msgBuilder { m.Write(b); return m }

// header writes mach_msg_header_t; the size is patched by done.
func (m *msgBuilder) header(bits uint32, remote, local uint32, id int32) *msgBuilder {
	return m.u32(bits).u32(0).u32(remote).u32(local).u32(0).i32(id)
}

// portDesc writes mach_msg_port_descriptor_t: name, pad1, then pad2:16,
// disposition:8, type:8 (little-endian bit-fields: bytes 8-9, 10, 11).
func (m *msgBuilder) portDesc(name uint32, disposition, typ byte) *msgBuilder {
	return m.u32(name).u32(0).raw([]byte{0, 0, disposition, typ})
}

func (m *msgBuilder) done() []byte {
	b := bytes.Clone(m.Bytes())
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

// identityHead writes what 2405 and 2407 share up to codeCnt.
func identityHead(m *msgBuilder, id int32, exception int32, codes []int64) {
	m.header(tBitsComplex, tReplyPort, tLocalPort, id).
		u32(2). // body: descriptor count
		portDesc(tThreadPort, 17, 0).
		portDesc(tTaskPort, 17, 0).
		raw(ndrRecord).i32(exception).u32(uint32(len(codes)))
	for _, c := range codes {
		m.i64(c)
	}
}

func buildRaise(codes ...int64) []byte {
	var m msgBuilder
	identityHead(&m, 2405, 1, codes)
	return m.done()
}

func stateWords(n int) []uint32 {
	w := make([]uint32, n)
	for i := range w {
		w[i] = 0xa0000000 | uint32(i)
	}
	return w
}

func wordsBytes(w []uint32) []byte {
	b := make([]byte, 4*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func buildRaiseStateIdentity(codes []int64, flavor int32, state []uint32) []byte {
	var m msgBuilder
	identityHead(&m, 2407, 1, codes)
	m.i32(flavor).u32(uint32(len(state))).raw(wordsBytes(state))
	return m.done()
}

func buildRaiseState(codes []int64, flavor int32, state []uint32) []byte {
	var m msgBuilder
	m.header(tBitsSimple, tReplyPort, tLocalPort, 2406).raw(ndrRecord).i32(1).u32(uint32(len(codes)))
	for _, c := range codes {
		m.i64(c)
	}
	m.i32(flavor).u32(uint32(len(state))).raw(wordsBytes(state))
	return m.done()
}

var (
	twoCodes = []int64{1, tFaultAddr} // KERN_INVALID_ADDRESS, fault address
	arm64    = struct{ flavor, count int32 }{6, 68}
	x86_64   = struct{ flavor, count int32 }{4, 42}
)

// validMessages are well-formed requests, also the fuzz seeds.
func validMessages() map[string][]byte {
	return map[string][]byte{
		"2405 codeCnt 2":        buildRaise(twoCodes...),
		"2405 codeCnt 1":        buildRaise(2),
		"2405 codeCnt 0":        buildRaise(),
		"2406 arm64":            buildRaiseState(twoCodes, arm64.flavor, stateWords(int(arm64.count))),
		"2406 x86_64":           buildRaiseState(twoCodes, x86_64.flavor, stateWords(int(x86_64.count))),
		"2406 codeCnt 1":        buildRaiseState(twoCodes[:1], arm64.flavor, stateWords(4)),
		"2407 arm64":            buildRaiseStateIdentity(twoCodes, arm64.flavor, stateWords(int(arm64.count))),
		"2407 x86_64":           buildRaiseStateIdentity(twoCodes, x86_64.flavor, stateWords(int(x86_64.count))),
		"2407 codeCnt 0":        buildRaiseStateIdentity(nil, x86_64.flavor, stateWords(2)),
		"2407 no state":         buildRaiseStateIdentity(twoCodes, arm64.flavor, nil),
		"2407 THREAD_STATE_MAX": buildRaiseStateIdentity(twoCodes, 1, stateWords(1296)),
	}
}

func TestMachMessageSizes(t *testing.T) {
	// The sizes of mach-messages.md, from the builder alone.
	assert.Len(t, buildRaise(twoCodes...), 84)
	assert.Len(t, buildRaise(1), 76)
	assert.Len(t, buildRaise(), 68)
	assert.Len(t, buildRaiseStateIdentity(twoCodes, arm64.flavor, stateWords(68)), 364)
	assert.Len(t, buildRaiseStateIdentity(twoCodes, x86_64.flavor, stateWords(42)), 260)
	assert.Len(t, buildRaiseState(twoCodes, arm64.flavor, stateWords(68)), 64+4*68)
	assert.Len(t, buildRaiseState(twoCodes, x86_64.flavor, stateWords(42)), 64+4*42)
}

func TestDecodeRaise(t *testing.T) {
	for _, tc := range []struct {
		codes []int64
		size  uint32
	}{{twoCodes, 84}, {[]int64{2}, 76}, {nil, 68}} {
		t.Run(fmt.Sprintf("codeCnt=%d", len(tc.codes)), func(t *testing.T) {
			msg := buildRaise(tc.codes...)
			req, st := machDecodeRequest(msg)
			require.Equal(t, machStatusOK, st)
			assert.Equal(t, int32(2405), req.ID)
			assert.Equal(t, uint32(tBitsComplex), req.Bits)
			assert.Equal(t, tc.size, req.Size)
			assert.Equal(t, uint32(tReplyPort), req.ReplyPort)
			assert.Equal(t, uint32(tLocalPort), req.LocalPort)
			assert.Equal(t, uint32(tThreadPort), req.ThreadPort)
			assert.Equal(t, uint32(tTaskPort), req.TaskPort)
			assert.Equal(t, int32(1), req.Exception) // EXC_BAD_ACCESS
			assert.Equal(t, uint32(len(tc.codes)), req.CodeCount)
			var want [2]int64
			copy(want[:], tc.codes)
			assert.Equal(t, want, req.Code, "missing codes read as 0")
			assert.Zero(t, req.StateCount)
			assert.Zero(t, req.StateOffset)
			assert.Nil(t, req.State)
		})
	}
}

func TestDecodeRaiseStateIdentity(t *testing.T) {
	for _, tc := range []struct {
		name          string
		codes         []int64
		flavor, count int32
		size, offset  uint32
	}{
		{"arm64", twoCodes, arm64.flavor, arm64.count, 364, 92},
		{"x86_64", twoCodes, x86_64.flavor, x86_64.count, 260, 92},
		{"codeCnt 1", twoCodes[:1], arm64.flavor, arm64.count, 356, 84},
		{"codeCnt 0", nil, x86_64.flavor, x86_64.count, 244, 76},
		{"THREAD_STATE_MAX", twoCodes, 1, 1296, 92 + 4*1296, 92},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words := stateWords(int(tc.count))
			msg := buildRaiseStateIdentity(tc.codes, tc.flavor, words)
			require.Len(t, msg, int(tc.size))
			req, st := machDecodeRequest(msg)
			require.Equal(t, machStatusOK, st)
			assert.Equal(t, int32(2407), req.ID)
			assert.Equal(t, uint32(tThreadPort), req.ThreadPort)
			assert.Equal(t, uint32(tTaskPort), req.TaskPort)
			assert.Equal(t, uint32(len(tc.codes)), req.CodeCount)
			if len(tc.codes) > 0 {
				assert.Equal(t, tc.codes[0], req.Code[0])
			}
			assert.Equal(t, tc.flavor, req.Flavor)
			assert.Equal(t, uint32(tc.count), req.StateCount)
			assert.Equal(t, tc.offset, req.StateOffset)
			assert.Equal(t, wordsBytes(words), req.State)
		})
	}
}

func TestDecodeRaiseState(t *testing.T) {
	for _, tc := range []struct {
		name          string
		codes         []int64
		flavor, count int32
		offset        uint32
	}{
		{"arm64", twoCodes, arm64.flavor, arm64.count, 64},
		{"x86_64", twoCodes, x86_64.flavor, x86_64.count, 64},
		{"codeCnt 1", twoCodes[:1], x86_64.flavor, x86_64.count, 56},
		{"codeCnt 0", nil, arm64.flavor, arm64.count, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words := stateWords(int(tc.count))
			msg := buildRaiseState(tc.codes, tc.flavor, words)
			req, st := machDecodeRequest(msg)
			require.Equal(t, machStatusOK, st)
			assert.Equal(t, int32(2406), req.ID)
			assert.Zero(t, req.ThreadPort, "2406 carries no ports")
			assert.Zero(t, req.TaskPort)
			assert.Equal(t, int32(1), req.Exception)
			var want [2]int64
			copy(want[:], tc.codes)
			assert.Equal(t, want, req.Code)
			assert.Equal(t, tc.flavor, req.Flavor)
			assert.Equal(t, uint32(tc.count), req.StateCount)
			assert.Equal(t, tc.offset, req.StateOffset)
			assert.Equal(t, wordsBytes(words), req.State)
		})
	}
}

// patch returns a copy of msg with a little-endian uint32 at off.
func patch(msg []byte, off int, v uint32) []byte {
	b := bytes.Clone(msg)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

func TestDecodeRejectsMalformed(t *testing.T) {
	raise := buildRaise(twoCodes...)
	ident := buildRaiseStateIdentity(twoCodes, arm64.flavor, stateWords(68))
	state := buildRaiseState(twoCodes, x86_64.flavor, stateWords(42))

	// A stateCnt over THREAD_STATE_MAX (1296 words), even with a size that
	// matches it.
	oversized := buildRaiseStateIdentity(twoCodes, 1, stateWords(1297))
	oversizedState := buildRaiseState(twoCodes, 1, stateWords(1297))
	hugeCount := patch(ident, 88, 0xffffffff)     // stateCnt of 2407 at 88
	shortCount := patch(ident, 88, 67)            // one word short of the size
	longCount := patch(state, 60, 43)             // 2406 stateCnt at 60
	codeCnt3 := patch(buildRaise(1, 2, 3), 64, 3) // 92 bytes, codeCnt 3
	codeCntHuge := patch(raise, 64, 0x40000001)   // codeCnt*8 would wrap 32 bits

	setByte := func(msg []byte, off int, v byte) []byte {
		b := bytes.Clone(msg)
		b[off] = v
		return b
	}

	for name, msg := range map[string][]byte{
		"stateCnt 1297 (2407)":                 oversized,
		"stateCnt 1297 (2406)":                 oversizedState,
		"stateCnt 0xffffffff":                  hugeCount,
		"stateCnt smaller than the message":    shortCount,
		"stateCnt larger than the message":     longCount,
		"codeCnt 3":                            codeCnt3,
		"codeCnt huge":                         codeCntHuge,
		"2405 not complex":                     patch(raise, 0, tBitsSimple),
		"2407 not complex":                     patch(ident, 0, tBitsSimple),
		"2406 complex":                         patch(state, 0, tBitsComplex),
		"descriptor count 1":                   patch(raise, 24, 1),
		"descriptor count 3":                   patch(raise, 24, 3),
		"thread descriptor OOL":                setByte(raise, 28+11, 1),
		"task descriptor OOL ports":            setByte(raise, 40+11, 2),
		"thread disposition send-once":         setByte(raise, 28+10, 18),
		"task disposition receive":             setByte(ident, 40+10, 16),
		"msgh_size larger than received":       patch(raise, 4, 88),
		"msgh_size smaller than received":      patch(raise, 4, 80),
		"2405 with trailing bytes":             patch(append(bytes.Clone(raise), 0, 0, 0, 0), 4, 88),
		"2407 with trailing bytes":             patch(append(bytes.Clone(ident), 0, 0, 0, 0), 4, 368),
		"2405 codeCnt 1 in an 84-byte message": patch(raise, 64, 1),
	} {
		t.Run(name, func(t *testing.T) {
			req, st := machDecodeRequest(msg)
			assert.Equal(t, machStatusBadArgs, st)
			// The header is still decoded, so the reply can be sent.
			assert.Equal(t, uint32(tReplyPort), req.ReplyPort)
			assert.Nil(t, req.State)
			reply := machEncodeReply(req, machStatusRetCode(st), 64)
			require.Len(t, reply, 36)
			assert.Equal(t, int32(-304), int32(binary.LittleEndian.Uint32(reply[32:])), "MIG_BAD_ARGUMENTS")
		})
	}
}

func TestDecodeTruncatedAtEveryLength(t *testing.T) {
	for name, msg := range validMessages() {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(msg); n++ {
				// As received into a short buffer: the header still
				// claims the full size.
				_, st := machDecodeRequest(msg[:n])
				if n < 24 {
					require.Equal(t, machStatusNoHeader, st, "n=%d", n)
				} else {
					require.Equal(t, machStatusBadArgs, st, "n=%d", n)
				}
				// A consistent header over a truncated body.
				if n >= 24 {
					_, st = machDecodeRequest(patch(msg[:n], 4, uint32(n)))
					require.Equal(t, machStatusBadArgs, st, "n=%d with msgh_size=n", n)
				}
			}
		})
	}
}

// checkReplyHeader asserts a reply's header and NDR field by field.
func checkReplyHeader(t *testing.T, reply []byte, size int, id int32) {
	t.Helper()
	require.Len(t, reply, size)
	le := binary.LittleEndian
	// MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(request bits), 0): the request's
	// remote disposition (18, move-send-once); no local, not complex.
	assert.Equal(t, uint32(18), le.Uint32(reply[0:]), "msgh_bits")
	assert.Equal(t, uint32(size), le.Uint32(reply[4:]), "msgh_size")
	assert.Equal(t, uint32(tReplyPort), le.Uint32(reply[8:]), "msgh_remote_port = request's reply port")
	assert.Equal(t, uint32(0), le.Uint32(reply[12:]), "msgh_local_port")
	assert.Equal(t, uint32(0), le.Uint32(reply[16:]), "msgh_voucher_port")
	assert.Equal(t, id, int32(le.Uint32(reply[20:])), "msgh_id")
	assert.Equal(t, ndrRecord, reply[24:32], "NDR_record")
}

func TestBadIDReply(t *testing.T) {
	for _, id := range []int32{2401, 2402, 2403, 2404, 2408, 2410, 241017, 0, -1, 2505, 0x7fffffff} {
		t.Run(fmt.Sprint(id), func(t *testing.T) {
			// A plausible body that must not matter: an unknown id is
			// MIG_BAD_ID whatever its size or bits.
			msg := patch(buildRaise(twoCodes...), 20, uint32(id))
			for _, m := range [][]byte{msg, patch(msg[:24], 4, 24), patch(msg[:24], 4, 9999)} {
				req, st := machDecodeRequest(m)
				require.Equal(t, machStatusBadID, st)
				assert.Equal(t, int32(-303), machStatusRetCode(st))
				reply := machEncodeReply(req, machStatusRetCode(st), 4096)
				checkReplyHeader(t, reply, 36, int32(uint32(id)+100)) // wraps for INT32_MAX
				assert.Equal(t, int32(-303), int32(binary.LittleEndian.Uint32(reply[32:])), "RetCode = MIG_BAD_ID")
			}
		})
	}
}

func TestEncodeReply(t *testing.T) {
	le := binary.LittleEndian
	msgs := validMessages()

	t.Run("2505 KERN_FAILURE", func(t *testing.T) {
		req, st := machDecodeRequest(msgs["2405 codeCnt 2"])
		require.Equal(t, machStatusOK, st)
		reply := machEncodeReply(req, 5, 4096)
		checkReplyHeader(t, reply, 36, 2505)
		assert.Equal(t, uint32(5), le.Uint32(reply[32:]), "RetCode = KERN_FAILURE")
	})
	t.Run("2505 KERN_SUCCESS is 36 bytes too", func(t *testing.T) {
		req, _ := machDecodeRequest(msgs["2405 codeCnt 0"])
		reply := machEncodeReply(req, 0, 4096)
		checkReplyHeader(t, reply, 36, 2505)
		assert.Equal(t, uint32(0), le.Uint32(reply[32:]))
	})
	for _, tc := range []struct {
		msg string
		id  int32
	}{{"2406 arm64", 2506}, {"2407 x86_64", 2507}} {
		t.Run(fmt.Sprintf("%d failure is mig_reply_error_t", tc.id), func(t *testing.T) {
			req, _ := machDecodeRequest(msgs[tc.msg])
			reply := machEncodeReply(req, 5, 4096)
			checkReplyHeader(t, reply, 36, tc.id)
			assert.Equal(t, uint32(5), le.Uint32(reply[32:]))
		})
	}
	for _, tc := range []struct {
		msg        string
		id, flavor int32
		count      int
	}{{"2407 arm64", 2507, 6, 68}, {"2407 x86_64", 2507, 4, 42}, {"2406 arm64", 2506, 6, 68}, {"2407 no state", 2507, 6, 0}} {
		t.Run(fmt.Sprintf("%s success carries the state", tc.msg), func(t *testing.T) {
			req, _ := machDecodeRequest(msgs[tc.msg])
			reply := machEncodeReply(req, 0, 8192)
			checkReplyHeader(t, reply, 44+4*tc.count, tc.id)
			assert.Equal(t, uint32(0), le.Uint32(reply[32:]), "RetCode")
			assert.Equal(t, tc.flavor, int32(le.Uint32(reply[36:])), "flavor")
			assert.Equal(t, uint32(tc.count), le.Uint32(reply[40:]), "new_stateCnt")
			assert.Equal(t, req.State, nilIfEmpty(reply[44:]), "new_state")
		})
	}
	t.Run("explicit new state", func(t *testing.T) {
		req, _ := machDecodeRequest(msgs["2407 arm64"])
		state := wordsBytes([]uint32{7, 8, 9})
		reply := machEncodeReplyState(req, 0, 99, state, 3, 4096)
		checkReplyHeader(t, reply, 56, 2507)
		assert.Equal(t, int32(99), int32(le.Uint32(reply[36:])))
		assert.Equal(t, uint32(3), le.Uint32(reply[40:]))
		assert.Equal(t, state, reply[44:])
		assert.Nil(t, machEncodeReplyState(req, 0, 99, make([]byte, 4*1297), 1297, 1<<14),
			"more than THREAD_STATE_MAX words")
	})
	t.Run("capacity", func(t *testing.T) {
		req, _ := machDecodeRequest(msgs["2405 codeCnt 2"])
		assert.Nil(t, machEncodeReply(req, 5, 35))
		assert.Len(t, machEncodeReply(req, 5, 36), 36)
		req, _ = machDecodeRequest(msgs["2407 arm64"])
		assert.Nil(t, machEncodeReply(req, 0, 44+4*68-1))
		assert.Len(t, machEncodeReply(req, 0, 44+4*68), 44+4*68)
	})
	t.Run("local bits of the request are dropped", func(t *testing.T) {
		req, _ := machDecodeRequest(msgs["2405 codeCnt 2"])
		req.Bits = 0x80001f12
		reply := machEncodeReply(req, 5, 64)
		assert.Equal(t, uint32(0x12), le.Uint32(reply[0:]))
	})
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestStatusRetCode(t *testing.T) {
	assert.Equal(t, int32(0), machStatusRetCode(machStatusOK))
	assert.Equal(t, int32(-303), machStatusRetCode(machStatusBadID))
	assert.Equal(t, int32(-304), machStatusRetCode(machStatusBadArgs))
	assert.Equal(t, int32(-304), machStatusRetCode(machStatusNoHeader))
}

func TestForwardID(t *testing.T) {
	const codes = 0x80000000
	for behavior, want := range map[uint32]int32{
		1: 2401, 2: 2402, 3: 2403,
		codes | 1: 2405, codes | 2: 2406, codes | 3: 2407,
		codes | 0x40000000 | 0x20000000 | 3: 2407, // MACH_EXCEPTION_ERRORS, _BACKTRACE_PREFERRED
		codes | 4:                           0,    // EXCEPTION_IDENTITY_PROTECTED: kernel-minted identity token
		0:                                   0, 5: 0, codes: 0,
	} {
		assert.Equal(t, want, machForwardID(behavior), "behavior %#x", behavior)
	}
}

// buildForward lays out the request a MIG client stub sends: remote
// COPY_SEND (19) of the destination, local MAKE_SEND_ONCE (21) of the reply
// port; ports in descriptors are COPY_SEND.
func buildForward(id int32, code64 bool, codes []int64, flavor int32, state []uint32) []byte {
	identity := id == 2401 || id == 2403 || id == 2405 || id == 2407
	withState := !(id == 2401 || id == 2405)
	var m msgBuilder
	bits := uint32(19 | 21<<8)
	if identity {
		bits |= 0x80000000
	}
	m.header(bits, 0x4b03, 0x5c03, id)
	if identity {
		m.u32(2).portDesc(tThreadPort, 19, 0).portDesc(tTaskPort, 19, 0)
	}
	m.raw(ndrRecord).i32(1).u32(uint32(len(codes)))
	for _, c := range codes {
		if code64 {
			m.i64(c)
		} else {
			m.i32(int32(c)) // low 32 bits, as xnu's CAST_DOWN_EXPLICIT
		}
	}
	if withState {
		m.i32(flavor).u32(uint32(len(state))).raw(wordsBytes(state))
	}
	return m.done()
}

func TestEncodeForward(t *testing.T) {
	words := stateWords(68)
	for _, tc := range []struct {
		behavior uint32
		id       int32
		size     int
	}{
		{0x80000001, 2405, 84},
		{0x80000002, 2406, 64 + 4*68},
		{0x80000003, 2407, 92 + 4*68},
		{1, 2401, 76},
		{2, 2402, 56 + 4*68},
		{3, 2403, 84 + 4*68},
	} {
		t.Run(fmt.Sprint(tc.id), func(t *testing.T) {
			f := machForward{
				DestPort: 0x4b03, ReplyPort: 0x5c03, Behavior: tc.behavior,
				ThreadPort: tThreadPort, TaskPort: tTaskPort,
				Exception: 1, CodeCount: 2, Code: [2]int64{1, tFaultAddr},
				Flavor: 6, StateCount: 68, State: wordsBytes(words),
			}
			got := machEncodeForward(f, 8192)
			want := buildForward(tc.id, tc.behavior&0x80000000 != 0, twoCodes, 6, words)
			require.Len(t, want, tc.size)
			assert.Equal(t, want, got)
			assert.Nil(t, machEncodeForward(f, tc.size-1), "capacity")

			// What the receiver sees decodes back to the same exception:
			// its kernel turns the COPY_SEND descriptors into PORT_SEND (17).
			if tc.behavior&0x80000000 != 0 {
				recv := bytes.Clone(got)
				binary.LittleEndian.PutUint32(recv[0:], binary.LittleEndian.Uint32(recv[0:])&0x80000000|0x1112)
				if tc.id != 2406 {
					recv[28+10], recv[40+10] = 17, 17
				}
				req, st := machDecodeRequest(recv)
				require.Equal(t, machStatusOK, st)
				assert.Equal(t, tc.id, req.ID)
				assert.Equal(t, [2]int64{1, tFaultAddr}, req.Code)
				if tc.id != 2405 {
					assert.Equal(t, wordsBytes(words), req.State)
				}
			}
		})
	}
	t.Run("fewer codes", func(t *testing.T) {
		f := machForward{Behavior: 0x80000001, ThreadPort: tThreadPort, TaskPort: tTaskPort,
			DestPort: 0x4b03, ReplyPort: 0x5c03, Exception: 1, CodeCount: 1, Code: [2]int64{2, 99}}
		assert.Equal(t, buildForward(2405, true, []int64{2}, 0, nil), machEncodeForward(f, 256))
	})
	t.Run("refused", func(t *testing.T) {
		f := machForward{Behavior: 0x80000004, CodeCount: 2}
		assert.Nil(t, machEncodeForward(f, 8192), "EXCEPTION_IDENTITY_PROTECTED")
		f = machForward{Behavior: 0x80000001, CodeCount: 3}
		assert.Nil(t, machEncodeForward(f, 8192), "codeCnt 3")
		f = machForward{Behavior: 0x80000002, CodeCount: 2, StateCount: 1297, State: make([]byte, 4*1297)}
		assert.Nil(t, machEncodeForward(f, 1<<14), "state over THREAD_STATE_MAX")
	})
}

func buildReply(id int32, bits uint32, retcode int32, flavor int32, state []uint32, withState bool) []byte {
	var m msgBuilder
	m.header(bits, 0, 0x5c03, id).raw(ndrRecord).i32(retcode)
	if withState {
		m.i32(flavor).u32(uint32(len(state))).raw(wordsBytes(state))
	}
	return m.done()
}

func TestDecodeReply(t *testing.T) {
	const rcvBits = 0x00001200 // local = PORT_SEND_ONCE as received
	words := stateWords(42)
	for _, tc := range []struct {
		name      string
		msg       []byte
		requestID int32
		status    int
		retcode   int32
		state     []byte
	}{
		{"2505 failure", buildReply(2505, rcvBits, 5, 0, nil, false), 2405, machStatusOK, 5, nil},
		{"2505 success", buildReply(2505, rcvBits, 0, 0, nil, false), 2405, machStatusOK, 0, nil},
		{"2501 success", buildReply(2501, rcvBits, 0, 0, nil, false), 2401, machStatusOK, 0, nil},
		{"2507 success with state", buildReply(2507, rcvBits, 0, 4, words, true), 2407, machStatusOK, 0, wordsBytes(words)},
		{"2502 success with state", buildReply(2502, rcvBits, 0, 4, words, true), 2402, machStatusOK, 0, wordsBytes(words)},
		{"2506 error as mig_reply_error_t", buildReply(2506, rcvBits, -304, 0, nil, false), 2406, machStatusOK, -304, nil},
		{"2507 error in full size: no state", buildReply(2507, rcvBits, 5, 4, words, true), 2407, machStatusOK, 5, nil},
		{"wrong id", buildReply(2506, rcvBits, 0, 0, nil, false), 2405, machStatusBadID, 0, nil},
		{"2506 success without state", buildReply(2506, rcvBits, 0, 0, nil, false), 2406, machStatusBadArgs, 0, nil},
		{"2505 success too long", buildReply(2505, rcvBits, 0, 4, words, true), 2405, machStatusBadArgs, 0, nil},
		{"complex", buildReply(2505, rcvBits|0x80000000, 5, 0, nil, false), 2405, machStatusBadArgs, 0, nil},
		{"state count over the size", patch(buildReply(2507, rcvBits, 0, 4, words, true), 40, 43), 2407, machStatusBadArgs, 0, nil},
		{"state count over 1296", buildReply(2507, rcvBits, 0, 4, stateWords(1297), true), 2407, machStatusBadArgs, 0, nil},
		{"msgh_size mismatch", patch(buildReply(2505, rcvBits, 5, 0, nil, false), 4, 40), 2405, machStatusBadArgs, 0, nil},
		{"short", buildReply(2505, rcvBits, 5, 0, nil, false)[:20], 2405, machStatusNoHeader, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, st := machDecodeReply(tc.msg, tc.requestID)
			require.Equal(t, tc.status, st)
			if st == machStatusOK {
				assert.Equal(t, tc.requestID+100, rep.ID)
				assert.Equal(t, tc.retcode, rep.RetCode)
				assert.Equal(t, tc.state, rep.State)
				if tc.state != nil {
					assert.Equal(t, int32(4), rep.Flavor)
					assert.Equal(t, uint32(44), rep.StateOffset)
				}
			}
		})
	}
	t.Run("round trip with the reply encoder", func(t *testing.T) {
		req, _ := machDecodeRequest(validMessages()["2407 arm64"])
		rep, st := machDecodeReply(machEncodeReply(req, 0, 8192), 2407)
		require.Equal(t, machStatusOK, st)
		assert.Equal(t, req.State, rep.State)
		assert.Equal(t, req.Flavor, rep.Flavor)
	})
}

// FuzzDecodeRequest feeds arbitrary bytes to the decoder and to the reply
// encoder and decoder. They must never crash or read outside the input,
// which is copied into C memory of exactly its size: run with
// `go test -asan -run '^$' -fuzz FuzzDecodeRequest` to have AddressSanitizer
// check the C side byte for byte.
func FuzzDecodeRequest(f *testing.F) {
	for _, msg := range validMessages() {
		f.Add(msg)
	}
	f.Add(patch(buildRaise(twoCodes...), 20, 241017))
	f.Add(buildReply(2507, 0x1200, 0, 4, stateWords(42), true))
	f.Fuzz(func(t *testing.T, msg []byte) {
		req, st := machDecodeRequest(msg)
		switch st {
		case machStatusOK:
			if req.CodeCount > 2 || req.StateCount > 1296 || int(req.Size) != len(msg) {
				t.Fatalf("accepted out-of-range request %+v", req)
			}
			if req.ID != 2405 {
				if end := int(req.StateOffset) + 4*int(req.StateCount); end != len(msg) {
					t.Fatalf("state ends at %d of %d", end, len(msg))
				}
			}
		case machStatusNoHeader:
			if len(msg) >= 24 {
				t.Fatalf("no header in %d bytes", len(msg))
			}
			return
		case machStatusBadID, machStatusBadArgs:
		default:
			t.Fatalf("status %d", st)
		}
		for _, rc := range []int32{0, 5, machStatusRetCode(st)} {
			reply := machEncodeReply(req, rc, 8192)
			if len(reply) != 36 && len(reply) != 44+4*int(req.StateCount) {
				t.Fatalf("reply of %d bytes", len(reply))
			}
			if got := int32(binary.LittleEndian.Uint32(reply[20:])); got != int32(uint32(req.ID)+100) {
				t.Fatalf("reply id %d for %d", got, req.ID)
			}
		}
		for _, id := range []int32{2405, 2406, 2407, req.ID - 100} {
			if rep, rst := machDecodeReply(msg, id); rst == machStatusOK && rep.StateCount > 1296 {
				t.Fatalf("reply with %d state words", rep.StateCount)
			}
		}
	})
}
