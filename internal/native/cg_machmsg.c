//go:build cgo

/*
 * cg_machmsg.c: decode and encode Mach exception messages (see cg_machmsg.h).
 *
 * Pure functions over bytes: every field is read and written with memcpy at
 * an offset checked against the length first, so a malformed or truncated
 * message can never make this code read outside the buffer (fuzzed in
 * machmsg_shim_test.go). No malloc, no locks, no globals: safe on the Mach
 * exception thread while other threads are stopped in a fault.
 */
#include "cg_machmsg.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cg_machmsg.c assumes a little-endian host (Mach messages are host order)"
#endif

/* ---- Our own layouts, checked where there is nothing to compare with. ---- */
_Static_assert(sizeof(cg_mach_msg_header) == 24, "header is 24 bytes");
_Static_assert(sizeof(cg_mach_msg_body) == 4, "body is 4 bytes");
_Static_assert(sizeof(cg_mach_port_descriptor) == 12, "port descriptor is 12 bytes");
_Static_assert(sizeof(cg_ndr_record) == 8, "NDR record is 8 bytes");
_Static_assert(sizeof(cg_mach_exc_raise_request) == 84, "2405 is 84 bytes with 2 codes");
_Static_assert(offsetof(cg_mach_exc_raise_request, thread) == 28, "thread descriptor at 28");
_Static_assert(offsetof(cg_mach_exc_raise_request, task) == 40, "task descriptor at 40");
_Static_assert(offsetof(cg_mach_exc_raise_request, NDR) == 52, "NDR at 52");
_Static_assert(offsetof(cg_mach_exc_raise_request, exception) == 60, "exception at 60");
_Static_assert(offsetof(cg_mach_exc_raise_request, codeCnt) == 64, "codeCnt at 64");
_Static_assert(offsetof(cg_mach_exc_raise_request, code) == 68, "code at 68, 4-aligned (pack 4)");
_Static_assert(offsetof(cg_mach_exc_raise_state_request, exception) == 32, "2406 exception at 32");
_Static_assert(offsetof(cg_mach_exc_raise_state_request, code) == 40, "2406 code at 40");
_Static_assert(offsetof(cg_mach_exc_raise_state_request, flavor) == 56, "2406 flavor at 56");
_Static_assert(offsetof(cg_mach_exc_raise_state_request, old_state) == 64, "2406 old_state at 64");
_Static_assert(offsetof(cg_mach_exc_raise_state_identity_request, flavor) == 84, "2407 flavor at 84");
_Static_assert(offsetof(cg_mach_exc_raise_state_identity_request, old_state) == 92,
	       "2407 old_state at 92");
_Static_assert(sizeof(cg_mach_exc_raise_state_identity_request) == CG_MACH_REQUEST_MAX_SIZE,
	       "largest request");
_Static_assert(sizeof(cg_mig_reply_error) == CG_MACH_REPLY_ERROR_SIZE, "mig_reply_error_t is 36");
_Static_assert(offsetof(cg_mig_reply_error, RetCode) == 32, "RetCode at 32");
_Static_assert(offsetof(cg_mach_exc_raise_state_reply, new_state) == CG_MACH_REPLY_STATE_BASE,
	       "new_state at 44");
_Static_assert(sizeof(cg_mach_exc_raise_state_reply) == CG_MACH_REPLY_MAX_SIZE, "largest reply");

/* ---- On darwin: the same numbers from the SDK. ---- */
#if defined(__APPLE__)
#include <mach/mach.h>
#include <mach/mig_errors.h>
#include <mach/ndr.h>

#define CG_SAME_LAYOUT(ours, theirs)                                                              \
	_Static_assert(sizeof(ours) == sizeof(theirs), #ours " has the size of " #theirs)
CG_SAME_LAYOUT(cg_mach_msg_header, mach_msg_header_t);
CG_SAME_LAYOUT(cg_mach_msg_body, mach_msg_body_t);
CG_SAME_LAYOUT(cg_mach_port_descriptor, mach_msg_port_descriptor_t);
CG_SAME_LAYOUT(cg_ndr_record, NDR_record_t);
CG_SAME_LAYOUT(cg_mig_reply_error, mig_reply_error_t);
_Static_assert(offsetof(mach_msg_header_t, msgh_bits) == 0, "msgh_bits");
_Static_assert(offsetof(mach_msg_header_t, msgh_size) == 4, "msgh_size");
_Static_assert(offsetof(mach_msg_header_t, msgh_remote_port) == 8, "msgh_remote_port");
_Static_assert(offsetof(mach_msg_header_t, msgh_local_port) == 12, "msgh_local_port");
_Static_assert(offsetof(mach_msg_header_t, msgh_voucher_port) == 16, "msgh_voucher_port");
_Static_assert(offsetof(mach_msg_header_t, msgh_id) == 20, "msgh_id");
_Static_assert(offsetof(mach_msg_port_descriptor_t, name) == 0, "descriptor name");
_Static_assert(offsetof(mig_reply_error_t, NDR) == 24, "reply NDR");
_Static_assert(offsetof(mig_reply_error_t, RetCode) == 32, "reply RetCode");
_Static_assert(offsetof(NDR_record_t, int_rep) == 4, "NDR int_rep");
_Static_assert(NDR_PROTOCOL_2_0 == 0 && NDR_INT_LITTLE_ENDIAN == 1 && NDR_CHAR_ASCII == 0 &&
		   NDR_FLOAT_IEEE == 0,
	       "the NDR values cg_mach_ndr_record spells out");

_Static_assert(MACH_MSGH_BITS_REMOTE_MASK == CG_MACH_MSGH_BITS_REMOTE_MASK, "remote mask");
_Static_assert(MACH_MSGH_BITS_LOCAL_MASK == CG_MACH_MSGH_BITS_LOCAL_MASK, "local mask");
_Static_assert(MACH_MSGH_BITS_COMPLEX == CG_MACH_MSGH_BITS_COMPLEX, "complex bit");
_Static_assert(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
		   CG_MACH_MSGH_BITS(CG_MACH_MSG_TYPE_COPY_SEND, CG_MACH_MSG_TYPE_MAKE_SEND_ONCE),
	       "MACH_MSGH_BITS");
_Static_assert(MACH_MSGH_BITS_REMOTE(0x80001312u) == CG_MACH_MSGH_BITS_REMOTE(0x80001312u),
	       "MACH_MSGH_BITS_REMOTE");
_Static_assert(MACH_MSG_TYPE_PORT_SEND == CG_MACH_MSG_TYPE_MOVE_SEND, "PORT_SEND");
_Static_assert(MACH_MSG_TYPE_MOVE_SEND_ONCE == CG_MACH_MSG_TYPE_MOVE_SEND_ONCE, "MOVE_SEND_ONCE");
_Static_assert(MACH_MSG_TYPE_COPY_SEND == CG_MACH_MSG_TYPE_COPY_SEND, "COPY_SEND");
_Static_assert(MACH_MSG_TYPE_MAKE_SEND_ONCE == CG_MACH_MSG_TYPE_MAKE_SEND_ONCE, "MAKE_SEND_ONCE");
_Static_assert(MACH_MSG_PORT_DESCRIPTOR == CG_MACH_MSG_PORT_DESCRIPTOR, "PORT_DESCRIPTOR");

_Static_assert(KERN_SUCCESS == CG_KERN_SUCCESS, "KERN_SUCCESS");
_Static_assert(KERN_INVALID_ADDRESS == CG_KERN_INVALID_ADDRESS, "KERN_INVALID_ADDRESS");
_Static_assert(KERN_PROTECTION_FAILURE == CG_KERN_PROTECTION_FAILURE, "KERN_PROTECTION_FAILURE");
_Static_assert(KERN_FAILURE == CG_KERN_FAILURE, "KERN_FAILURE");
_Static_assert(MIG_TYPE_ERROR == CG_MIG_TYPE_ERROR, "MIG_TYPE_ERROR");
_Static_assert(MIG_REPLY_MISMATCH == CG_MIG_REPLY_MISMATCH, "MIG_REPLY_MISMATCH");
_Static_assert(MIG_BAD_ID == CG_MIG_BAD_ID, "MIG_BAD_ID");
_Static_assert(MIG_BAD_ARGUMENTS == CG_MIG_BAD_ARGUMENTS, "MIG_BAD_ARGUMENTS");

_Static_assert(EXC_BAD_ACCESS == CG_EXC_BAD_ACCESS, "EXC_BAD_ACCESS");
_Static_assert(EXCEPTION_DEFAULT == CG_EXCEPTION_DEFAULT, "EXCEPTION_DEFAULT");
_Static_assert(EXCEPTION_STATE == CG_EXCEPTION_STATE, "EXCEPTION_STATE");
_Static_assert(EXCEPTION_STATE_IDENTITY == CG_EXCEPTION_STATE_IDENTITY, "EXCEPTION_STATE_IDENTITY");
_Static_assert(MACH_EXCEPTION_CODES == CG_MACH_EXCEPTION_CODES, "MACH_EXCEPTION_CODES");
_Static_assert((MACH_EXCEPTION_MASK & ~CG_MACH_EXCEPTION_MASK) == 0,
	       "every behavior flag bit the SDK knows is masked off");
_Static_assert(THREAD_STATE_MAX <= CG_MACH_STATE_MAX_WORDS, "THREAD_STATE_MAX fits");
#if defined(__arm64__)
_Static_assert(ARM_THREAD_STATE64 == CG_ARM_THREAD_STATE64, "ARM_THREAD_STATE64");
_Static_assert(ARM_THREAD_STATE64_COUNT == CG_ARM_THREAD_STATE64_COUNT, "ARM_THREAD_STATE64_COUNT");
#elif defined(__x86_64__)
_Static_assert(x86_THREAD_STATE64 == CG_X86_THREAD_STATE64, "x86_THREAD_STATE64");
_Static_assert(x86_THREAD_STATE64_COUNT == CG_X86_THREAD_STATE64_COUNT, "x86_THREAD_STATE64_COUNT");
#endif

/* The MIG-generated request and reply types. Zig's bundled SDK headers carry
 * neither <mach/exc.h> nor <mach/mach_exc.h>, and Apple's SDK ships only
 * mach_exc.defs (PLCrashReporter and crashpad run mig themselves), so these
 * checks run only where the headers exist, e.g. on the macOS CI runner. */
#if __has_include(<mach/mach_exc.h>)
#include <mach/mach_exc.h>
_Static_assert(sizeof(__Request__mach_exception_raise_t) == sizeof(cg_mach_exc_raise_request),
	       "2405 layout");
_Static_assert(offsetof(__Request__mach_exception_raise_t, code) == 68, "2405 code");
_Static_assert(offsetof(__Request__mach_exception_raise_state_t, old_state) == 64, "2406 state");
_Static_assert(offsetof(__Request__mach_exception_raise_state_identity_t, old_state) == 92,
	       "2407 state");
_Static_assert(sizeof(__Reply__mach_exception_raise_t) == CG_MACH_REPLY_ERROR_SIZE, "2505");
_Static_assert(offsetof(__Reply__mach_exception_raise_state_t, new_state) == 44, "2506");
_Static_assert(offsetof(__Reply__mach_exception_raise_state_identity_t, new_state) == 44, "2507");
#endif
#if __has_include(<mach/exc.h>)
#include <mach/exc.h>
_Static_assert(offsetof(__Request__exception_raise_t, code) == 68, "2401 code");
_Static_assert(sizeof(__Request__exception_raise_t) == 76, "2401 is 76 bytes with 2 codes");
_Static_assert(offsetof(__Request__exception_raise_state_t, old_state) == 56, "2402 state");
_Static_assert(offsetof(__Request__exception_raise_state_identity_t, old_state) == 84,
	       "2403 state");
_Static_assert(sizeof(__Reply__exception_raise_t) == CG_MACH_REPLY_ERROR_SIZE, "2501");
_Static_assert(offsetof(__Reply__exception_raise_state_t, new_state) == 44, "2502");
#endif
#endif /* __APPLE__ */

/* NDR_record as libsystem_kernel defines it (xnu's "NDR record for Intel
 * x86s", the same on arm64): three reserved bytes, NDR_PROTOCOL_2_0 (0),
 * NDR_INT_LITTLE_ENDIAN (1), NDR_CHAR_ASCII (0), NDR_FLOAT_IEEE (0), 0; the
 * values are <mach/ndr.h>'s. Every MIG message carries it after the
 * descriptors. */
const unsigned char cg_mach_ndr_record[CG_MACH_NDR_SIZE] = {0, 0, 0, 0, 1, 0, 0, 0};

/* Offsets shared by the layouts (see the table in cg_machmsg.h). */
enum {
	OFF_BITS = 0,
	OFF_SIZE = 4,
	OFF_REMOTE = 8,
	OFF_LOCAL = 12,
	OFF_VOUCHER = 16,
	OFF_ID = 20,
	/* complex messages */
	OFF_DESC_COUNT = 24,
	OFF_THREAD = 28,
	OFF_TASK = 40,
	OFF_COMPLEX_NDR = 52,
	OFF_COMPLEX_EXC = 60,
	OFF_COMPLEX_CODECNT = 64,
	OFF_COMPLEX_CODE = 68,
	/* simple (2402/2406) */
	OFF_SIMPLE_NDR = 24,
	OFF_SIMPLE_EXC = 32,
	OFF_SIMPLE_CODECNT = 36,
	OFF_SIMPLE_CODE = 40,
	/* within a descriptor */
	OFF_DESC_DISPOSITION = 10,
	OFF_DESC_TYPE = 11,
	/* replies */
	OFF_REPLY_NDR = 24,
	OFF_REPLY_RETCODE = 32,
	OFF_REPLY_FLAVOR = 36,
	OFF_REPLY_STATECNT = 40,
	OFF_REPLY_STATE = 44
};

static uint32_t rd_u32(const unsigned char *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

static int32_t rd_i32(const unsigned char *p, size_t off)
{
	int32_t v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

static int64_t rd_i64(const unsigned char *p, size_t off)
{
	int64_t v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

static void wr_u32(unsigned char *p, size_t off, uint32_t v) { memcpy(p + off, &v, sizeof v); }
static void wr_i32(unsigned char *p, size_t off, int32_t v) { memcpy(p + off, &v, sizeof v); }
static void wr_i64(unsigned char *p, size_t off, int64_t v) { memcpy(p + off, &v, sizeof v); }

/* id + 100 without signed overflow (a hostile id may be INT32_MAX). */
static int32_t reply_id(int32_t id)
{
	return (int32_t)((uint32_t)id + (uint32_t)CG_MACH_REPLY_ID_OFFSET);
}

/* A received port descriptor must carry a send right: MIG's type check wants
 * type MACH_MSG_PORT_DESCRIPTOR and disposition MACH_MSG_TYPE_PORT_SEND (17)
 * for a mach_port_t argument. */
static int port_descriptor_ok(const unsigned char *p, size_t off)
{
	return p[off + OFF_DESC_TYPE] == CG_MACH_MSG_PORT_DESCRIPTOR &&
	       p[off + OFF_DESC_DISPOSITION] == CG_MACH_MSG_TYPE_MOVE_SEND;
}

/* Reads the variable tail that follows code[codeCnt] in 2406/2407:
 * flavor, old_stateCnt, old_state[n]; the message must end exactly there. */
static int decode_state_tail(const unsigned char *p, size_t len, size_t off, cg_mach_request *out)
{
	if (len < off + 8)
		return CG_MACH_BAD_ARGS;
	out->flavor = rd_i32(p, off);
	uint32_t n = rd_u32(p, off + 4);
	if (n > CG_MACH_STATE_MAX_WORDS)
		return CG_MACH_BAD_ARGS;
	/* off <= 92 and n <= 1296: no overflow. */
	if (len != off + 8 + (size_t)n * 4)
		return CG_MACH_BAD_ARGS;
	out->state_count = n;
	out->state_offset = (uint32_t)(off + 8);
	out->state = p + off + 8;
	return CG_MACH_OK;
}

int cg_mach_decode_request(const void *buf, size_t len, cg_mach_request *out)
{
	memset(out, 0, sizeof *out);
	if (buf == NULL || len < CG_MACH_HEADER_SIZE)
		return CG_MACH_NO_HEADER;
	const unsigned char *p = (const unsigned char *)buf;

	out->msgh_bits = rd_u32(p, OFF_BITS);
	out->msgh_size = rd_u32(p, OFF_SIZE);
	out->reply_port = rd_u32(p, OFF_REMOTE);
	out->local_port = rd_u32(p, OFF_LOCAL);
	out->id = rd_i32(p, OFF_ID);

	/* The id decides first, as in the MIG demux routine (mach_exc_server):
	 * an unknown id is MIG_BAD_ID whatever its size (zed issue 50355 met
	 * id 241017 on macOS 26). */
	int complex;
	switch (out->id) {
	case CG_MACH_ID_RAISE:
	case CG_MACH_ID_RAISE_STATE_IDENTITY:
		complex = 1;
		break;
	case CG_MACH_ID_RAISE_STATE:
		complex = 0;
		break;
	default:
		return CG_MACH_BAD_ID;
	}

	/* The header's size must be the size received. */
	if (out->msgh_size != len)
		return CG_MACH_BAD_ARGS;
	int is_complex = (out->msgh_bits & CG_MACH_MSGH_BITS_COMPLEX) != 0;
	if (is_complex != complex)
		return CG_MACH_BAD_ARGS;

	size_t code_off;
	if (complex) {
		/* 2405/2407: body{2}, thread and task port descriptors. */
		if (len < OFF_COMPLEX_CODE)
			return CG_MACH_BAD_ARGS;
		if (rd_u32(p, OFF_DESC_COUNT) != 2)
			return CG_MACH_BAD_ARGS;
		if (!port_descriptor_ok(p, OFF_THREAD) || !port_descriptor_ok(p, OFF_TASK))
			return CG_MACH_BAD_ARGS;
		out->thread_port = rd_u32(p, OFF_THREAD);
		out->task_port = rd_u32(p, OFF_TASK);
		out->exception = rd_i32(p, OFF_COMPLEX_EXC);
		out->code_count = rd_u32(p, OFF_COMPLEX_CODECNT);
		code_off = OFF_COMPLEX_CODE;
	} else {
		if (len < OFF_SIMPLE_CODE)
			return CG_MACH_BAD_ARGS;
		out->exception = rd_i32(p, OFF_SIMPLE_EXC);
		out->code_count = rd_u32(p, OFF_SIMPLE_CODECNT);
		code_off = OFF_SIMPLE_CODE;
	}

	/* mach_exception_data_t is array[*:2] of int64_t: at most 2 codes, and
	 * the fields after code[] move up by 8 per missing code. */
	if (out->code_count > 2) {
		out->code_count = 0;
		return CG_MACH_BAD_ARGS;
	}
	size_t after_code = code_off + 8 * (size_t)out->code_count;
	if (len < after_code)
		return CG_MACH_BAD_ARGS;
	for (uint32_t i = 0; i < out->code_count; i++)
		out->code[i] = rd_i64(p, code_off + 8 * (size_t)i);

	if (out->id == CG_MACH_ID_RAISE)
		return len == after_code ? CG_MACH_OK : CG_MACH_BAD_ARGS;
	return decode_state_tail(p, len, after_code, out);
}

int32_t cg_mach_status_retcode(int status)
{
	switch (status) {
	case CG_MACH_OK:
		return CG_KERN_SUCCESS;
	case CG_MACH_BAD_ID:
		return CG_MIG_BAD_ID;
	default:
		return CG_MIG_BAD_ARGUMENTS;
	}
}

static int is_state_id(int32_t id)
{
	return id == CG_MACH_ID_RAISE_STATE || id == CG_MACH_ID_RAISE_STATE_IDENTITY ||
	       id == CG_MACH_ID_EXC_RAISE_STATE || id == CG_MACH_ID_EXC_RAISE_STATE_IDENTITY;
}

/* The reply header, as crashpad's PrepareMIGReplyFromRequest builds it
 * (util/mach/mach_message.cc): the request's reply right (move-send-once)
 * becomes the remote port, no local port, id + 100. */
static void write_reply_header(const cg_mach_request *req, unsigned char *p, uint32_t size)
{
	wr_u32(p, OFF_BITS, CG_MACH_MSGH_BITS(CG_MACH_MSGH_BITS_REMOTE(req->msgh_bits), 0));
	wr_u32(p, OFF_SIZE, size);
	wr_u32(p, OFF_REMOTE, req->reply_port);
	wr_u32(p, OFF_LOCAL, 0);
	wr_u32(p, OFF_VOUCHER, 0);
	wr_i32(p, OFF_ID, reply_id(req->id));
	memcpy(p + OFF_REPLY_NDR, cg_mach_ndr_record, sizeof cg_mach_ndr_record);
}

size_t cg_mach_encode_reply_state(const cg_mach_request *req, int32_t retcode, int32_t flavor,
				  const void *state, uint32_t state_count, void *out, size_t cap)
{
	if (req == NULL || out == NULL)
		return 0;
	unsigned char *p = (unsigned char *)out;
	/* A MIG server answers a failure, and every id without out-arguments,
	 * with the bare mig_reply_error_t. */
	if (retcode != CG_KERN_SUCCESS || !is_state_id(req->id)) {
		if (cap < CG_MACH_REPLY_ERROR_SIZE)
			return 0;
		write_reply_header(req, p, CG_MACH_REPLY_ERROR_SIZE);
		wr_i32(p, OFF_REPLY_RETCODE, retcode);
		return CG_MACH_REPLY_ERROR_SIZE;
	}
	if (state_count > CG_MACH_STATE_MAX_WORDS || (state_count > 0 && state == NULL))
		return 0;
	size_t size = CG_MACH_REPLY_STATE_BASE + 4 * (size_t)state_count;
	if (cap < size)
		return 0;
	write_reply_header(req, p, (uint32_t)size);
	wr_i32(p, OFF_REPLY_RETCODE, retcode);
	wr_i32(p, OFF_REPLY_FLAVOR, flavor);
	wr_u32(p, OFF_REPLY_STATECNT, state_count);
	if (state_count > 0)
		memcpy(p + OFF_REPLY_STATE, state, 4 * (size_t)state_count);
	return size;
}

size_t cg_mach_encode_reply(const cg_mach_request *req, int32_t retcode, void *out, size_t cap)
{
	if (req == NULL)
		return 0;
	return cg_mach_encode_reply_state(req, retcode, req->flavor, req->state, req->state_count,
					  out, cap);
}

int32_t cg_mach_forward_id(uint32_t behavior)
{
	int32_t base = (behavior & CG_MACH_EXCEPTION_CODES) ? CG_MACH_ID_RAISE : CG_MACH_ID_EXC_RAISE;
	switch (behavior & ~CG_MACH_EXCEPTION_MASK) {
	case CG_EXCEPTION_DEFAULT:
		return base;
	case CG_EXCEPTION_STATE:
		return base + 1;
	case CG_EXCEPTION_STATE_IDENTITY:
		return base + 2;
	default:
		/* EXCEPTION_IDENTITY_PROTECTED (4) carries a thread id and a task
		 * identity token the kernel mints (xnu exception.c
		 * exception_deliver); a user process cannot make one. */
		return 0;
	}
}

static void write_port_descriptor(unsigned char *p, size_t off, uint32_t name)
{
	wr_u32(p, off, name);
	wr_u32(p, off + 4, 0);
	p[off + 8] = 0;
	p[off + 9] = 0;
	/* mach_port_t arguments are MACH_MSG_TYPE_COPY_SEND in MIG
	 * (std_types.defs): we keep our own reference. */
	p[off + OFF_DESC_DISPOSITION] = (unsigned char)CG_MACH_MSG_TYPE_COPY_SEND;
	p[off + OFF_DESC_TYPE] = (unsigned char)CG_MACH_MSG_PORT_DESCRIPTOR;
}

size_t cg_mach_encode_forward(const cg_mach_forward *f, void *out, size_t cap)
{
	if (f == NULL || out == NULL)
		return 0;
	int32_t id = cg_mach_forward_id(f->behavior);
	if (id == 0 || f->code_count > 2)
		return 0;
	int code64 = (f->behavior & CG_MACH_EXCEPTION_CODES) != 0;
	int identity = id == CG_MACH_ID_RAISE || id == CG_MACH_ID_RAISE_STATE_IDENTITY ||
		       id == CG_MACH_ID_EXC_RAISE || id == CG_MACH_ID_EXC_RAISE_STATE_IDENTITY;
	int with_state = is_state_id(id);
	if (with_state &&
	    (f->state_count > CG_MACH_STATE_MAX_WORDS || (f->state_count > 0 && f->state == NULL)))
		return 0;

	size_t code_size = code64 ? 8 : 4;
	size_t code_off = identity ? OFF_COMPLEX_CODE : OFF_SIMPLE_CODE;
	size_t end = code_off + code_size * f->code_count;
	size_t size = end + (with_state ? 8 + 4 * (size_t)f->state_count : 0);
	if (cap < size)
		return 0;

	unsigned char *p = (unsigned char *)out;
	uint32_t bits = CG_MACH_MSGH_BITS(CG_MACH_MSG_TYPE_COPY_SEND, CG_MACH_MSG_TYPE_MAKE_SEND_ONCE);
	if (identity)
		bits |= CG_MACH_MSGH_BITS_COMPLEX;
	wr_u32(p, OFF_BITS, bits);
	wr_u32(p, OFF_SIZE, (uint32_t)size);
	wr_u32(p, OFF_REMOTE, f->dest_port);
	wr_u32(p, OFF_LOCAL, f->reply_port);
	wr_u32(p, OFF_VOUCHER, 0);
	wr_i32(p, OFF_ID, id);
	if (identity) {
		wr_u32(p, OFF_DESC_COUNT, 2);
		write_port_descriptor(p, OFF_THREAD, f->thread_port);
		write_port_descriptor(p, OFF_TASK, f->task_port);
		memcpy(p + OFF_COMPLEX_NDR, cg_mach_ndr_record, sizeof cg_mach_ndr_record);
		wr_i32(p, OFF_COMPLEX_EXC, f->exception);
		wr_u32(p, OFF_COMPLEX_CODECNT, f->code_count);
	} else {
		memcpy(p + OFF_SIMPLE_NDR, cg_mach_ndr_record, sizeof cg_mach_ndr_record);
		wr_i32(p, OFF_SIMPLE_EXC, f->exception);
		wr_u32(p, OFF_SIMPLE_CODECNT, f->code_count);
	}
	for (uint32_t i = 0; i < f->code_count; i++) {
		if (code64)
			wr_i64(p, code_off + 8 * (size_t)i, f->code[i]);
		else /* CAST_DOWN_EXPLICIT in exception_deliver: keep the low 32 bits */
			wr_i32(p, code_off + 4 * (size_t)i, (int32_t)(uint32_t)(uint64_t)f->code[i]);
	}
	if (with_state) {
		wr_i32(p, end, f->flavor);
		wr_u32(p, end + 4, f->state_count);
		if (f->state_count > 0)
			memcpy(p + end + 8, f->state, 4 * (size_t)f->state_count);
	}
	return size;
}

int cg_mach_decode_reply(const void *buf, size_t len, int32_t request_id, cg_mach_reply *out)
{
	memset(out, 0, sizeof *out);
	if (buf == NULL || len < CG_MACH_HEADER_SIZE)
		return CG_MACH_NO_HEADER;
	const unsigned char *p = (const unsigned char *)buf;
	out->id = rd_i32(p, OFF_ID);
	if (out->id != reply_id(request_id))
		return CG_MACH_BAD_ID;
	if (rd_u32(p, OFF_SIZE) != len || (rd_u32(p, OFF_BITS) & CG_MACH_MSGH_BITS_COMPLEX) != 0 ||
	    len < CG_MACH_REPLY_ERROR_SIZE)
		return CG_MACH_BAD_ARGS;
	out->retcode = rd_i32(p, OFF_REPLY_RETCODE);
	/* MIG client check: a bare mig_reply_error_t is fine when it carries an
	 * error; a failure carries no state whatever its size. */
	if (out->retcode != CG_KERN_SUCCESS)
		return CG_MACH_OK;
	if (!is_state_id(request_id))
		return len == CG_MACH_REPLY_ERROR_SIZE ? CG_MACH_OK : CG_MACH_BAD_ARGS;
	if (len < CG_MACH_REPLY_STATE_BASE)
		return CG_MACH_BAD_ARGS;
	uint32_t n = rd_u32(p, OFF_REPLY_STATECNT);
	if (n > CG_MACH_STATE_MAX_WORDS || len != CG_MACH_REPLY_STATE_BASE + 4 * (size_t)n)
		return CG_MACH_BAD_ARGS;
	out->flavor = rd_i32(p, OFF_REPLY_FLAVOR);
	out->state_count = n;
	out->state_offset = OFF_REPLY_STATE;
	out->state = p + OFF_REPLY_STATE;
	return CG_MACH_OK;
}
