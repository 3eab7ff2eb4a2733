/*
 * cg_machmsg.h: Mach exception messages as bytes.
 *
 * The decode and encode functions here are pure: no system calls, no malloc,
 * no globals. They are compiled on every cgo platform and unit-tested on
 * Linux (machmsg_shim_test.go); on darwin the Mach exception thread
 * (cg_mach_darwin.c) uses them. When built for darwin, cg_machmsg.c
 * _Static_asserts every layout and constant here against <mach/mach.h>.
 *
 * Layouts follow the MIG definitions in xnu osfmk/mach/mach_exc.defs and
 * exc.defs as MIG lays them out (#pragma pack(4); the kernel is the client,
 * this process the server). Sources read: chromium/crashpad
 * util/mach/exc_server_variants.cc, util/mach/mach_message.cc; KSCrash
 * KSCrashMonitor_MachException.c; PLCrashReporter
 * PLCrashMachExceptionServer.m; wasmtime machports.rs.
 *
 * Byte offsets with c = codeCnt (0..2) and n = state words (0..1296), for the
 * 64-bit-code messages (MACH_EXCEPTION_CODES):
 *
 *   2405 mach_exception_raise (complex)
 *     0 header(24) | 24 body{2} | 28 thread desc(12) | 40 task desc(12)
 *     52 NDR(8) | 60 exception | 64 codeCnt | 68 code[c] (int64)
 *     size 68 + 8c (84 when c = 2)
 *   2406 mach_exception_raise_state (simple)
 *     0 header | 24 NDR | 32 exception | 36 codeCnt | 40 code[c]
 *     40+8c flavor | 44+8c old_stateCnt | 48+8c old_state[n]
 *     size 48 + 8c + 4n (64 + 4n when c = 2)
 *   2407 mach_exception_raise_state_identity (complex)
 *     the 2405 layout, then 68+8c flavor | 72+8c old_stateCnt |
 *     76+8c old_state[n]; size 76 + 8c + 4n (92 + 4n when c = 2:
 *     arm64 ARM_THREAD_STATE64 n = 68 -> 364; x86_THREAD_STATE64 n = 42 -> 260)
 *
 * The 32-bit-code messages 2401..2403 (exc.defs) have the same layout with
 * 4-byte codes; they truncate a 64-bit fault address (KSCrash issue 810), so
 * crashguard never asks for them. It only writes them, to forward an
 * exception to a previous handler that registered without
 * MACH_EXCEPTION_CODES.
 *
 * Replies (id = request id + 100, osfmk/kern/ipc_kobject.c convention):
 *   0 header | 24 NDR | 32 RetCode                     = 36 (mig_reply_error_t,
 *     also the full reply to 2401/2405)
 *   ... | 36 flavor | 40 new_stateCnt | 44 new_state[n] = 44 + 4n (success
 *     reply to 2402/2403/2406/2407)
 */
#ifndef CG_MACHMSG_H
#define CG_MACHMSG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Constants (values checked against the macOS SDK headers, see the
 * _Static_asserts in cg_machmsg.c). ---- */

/* <mach/message.h> */
#define CG_MACH_MSGH_BITS_REMOTE_MASK 0x0000001fu
#define CG_MACH_MSGH_BITS_LOCAL_MASK 0x00001f00u
#define CG_MACH_MSGH_BITS_COMPLEX 0x80000000u
#define CG_MACH_MSGH_BITS(remote, local) ((uint32_t)(remote) | ((uint32_t)(local) << 8))
#define CG_MACH_MSGH_BITS_REMOTE(bits) ((uint32_t)(bits)&CG_MACH_MSGH_BITS_REMOTE_MASK)
#define CG_MACH_MSG_TYPE_MOVE_SEND 17u /* = MACH_MSG_TYPE_PORT_SEND as received */
#define CG_MACH_MSG_TYPE_MOVE_SEND_ONCE 18u
#define CG_MACH_MSG_TYPE_COPY_SEND 19u
#define CG_MACH_MSG_TYPE_MAKE_SEND_ONCE 21u
#define CG_MACH_MSG_PORT_DESCRIPTOR 0u

/* <mach/kern_return.h>, <mach/mig_errors.h> */
#define CG_KERN_SUCCESS 0
#define CG_KERN_INVALID_ADDRESS 1    /* EXC_BAD_ACCESS code -> SIGSEGV */
#define CG_KERN_PROTECTION_FAILURE 2 /* EXC_BAD_ACCESS code -> SIGBUS */
#define CG_KERN_FAILURE 5
#define CG_MIG_TYPE_ERROR (-300)
#define CG_MIG_REPLY_MISMATCH (-301)
#define CG_MIG_BAD_ID (-303)
#define CG_MIG_BAD_ARGUMENTS (-304)

/* <mach/exception_types.h> */
#define CG_EXC_BAD_ACCESS 1
#define CG_EXCEPTION_DEFAULT 1
#define CG_EXCEPTION_STATE 2
#define CG_EXCEPTION_STATE_IDENTITY 3
#define CG_MACH_EXCEPTION_CODES 0x80000000u
/* Flag bits of a behavior: MACH_EXCEPTION_CODES | MACH_EXCEPTION_ERRORS |
 * MACH_EXCEPTION_BACKTRACE_PREFERRED (macOS 13 SDK). */
#define CG_MACH_EXCEPTION_MASK 0xe0000000u

/* Thread state flavors (<mach/arm/thread_status.h>, <mach/i386/thread_status.h>). */
#define CG_ARM_THREAD_STATE64 6
#define CG_ARM_THREAD_STATE64_COUNT 68 /* words: x0-x28, fp, lr, sp, pc, cpsr, pad */
#define CG_X86_THREAD_STATE64 4
#define CG_X86_THREAD_STATE64_COUNT 42 /* words: rax..r15, rip, rflags, cs, fs, gs */

/* Message ids (mach_exc.defs subsystem 2405, exc.defs subsystem 2401). */
#define CG_MACH_ID_EXC_RAISE 2401
#define CG_MACH_ID_EXC_RAISE_STATE 2402
#define CG_MACH_ID_EXC_RAISE_STATE_IDENTITY 2403
#define CG_MACH_ID_RAISE 2405
#define CG_MACH_ID_RAISE_STATE 2406
#define CG_MACH_ID_RAISE_STATE_IDENTITY 2407
#define CG_MACH_REPLY_ID_OFFSET 100

/* The largest thread state any Apple architecture exports, in 32-bit words:
 * THREAD_STATE_MAX (<mach/machine/thread_state.h>: 1296, the arm value;
 * i386 alone is 614). The MIG request structs size old_state with it. */
#define CG_MACH_STATE_MAX_WORDS 1296

/* Fixed sizes. */
#define CG_MACH_HEADER_SIZE 24
#define CG_MACH_BODY_SIZE 4
#define CG_MACH_PORT_DESCRIPTOR_SIZE 12
#define CG_MACH_NDR_SIZE 8
#define CG_MACH_REPLY_ERROR_SIZE 36 /* sizeof(mig_reply_error_t) */
#define CG_MACH_REPLY_STATE_BASE 44 /* state reply without new_state[] */
/* Largest request crashguard accepts: 2407 with 2 codes and a full state. */
#define CG_MACH_REQUEST_MAX_SIZE (92 + 4 * CG_MACH_STATE_MAX_WORDS)
/* Largest reply: a state reply with a full state. */
#define CG_MACH_REPLY_MAX_SIZE (CG_MACH_REPLY_STATE_BASE + 4 * CG_MACH_STATE_MAX_WORDS)

/* ---- Wire structures, #pragma pack(4) like MIG's (__MigPackStructs). They
 * document the layout and carry the _Static_asserts; the codec itself reads
 * and writes through memcpy at computed offsets because the fields after
 * code[] move when codeCnt < 2. ---- */
#pragma pack(push, 4)
typedef struct {
	uint32_t msgh_bits;
	uint32_t msgh_size;
	uint32_t msgh_remote_port;
	uint32_t msgh_local_port;
	uint32_t msgh_voucher_port;
	int32_t msgh_id;
} cg_mach_msg_header; /* mach_msg_header_t, 24 */

typedef struct {
	uint32_t msgh_descriptor_count;
} cg_mach_msg_body; /* mach_msg_body_t, 4 */

/* mach_msg_port_descriptor_t, 12: name, pad1, then the 32-bit word
 * {pad2:16, disposition:8, type:8}, which on a little-endian machine is
 * pad2 at bytes 8-9, disposition at byte 10, type at byte 11. */
typedef struct {
	uint32_t name;
	uint32_t pad1;
	uint16_t pad2;
	uint8_t disposition;
	uint8_t type;
} cg_mach_port_descriptor;

typedef struct {
	uint8_t mig_vers;
	uint8_t if_vers;
	uint8_t reserved1;
	uint8_t mig_encoding;
	uint8_t int_rep;
	uint8_t char_rep;
	uint8_t float_rep;
	uint8_t reserved2;
} cg_ndr_record; /* NDR_record_t, 8 */

typedef struct {
	cg_mach_msg_header Head;
	cg_mach_msg_body msgh_body;
	cg_mach_port_descriptor thread;
	cg_mach_port_descriptor task;
	cg_ndr_record NDR;
	int32_t exception;
	uint32_t codeCnt;
	int64_t code[2];
} cg_mach_exc_raise_request; /* 2405, 84 */

typedef struct {
	cg_mach_msg_header Head;
	cg_ndr_record NDR;
	int32_t exception;
	uint32_t codeCnt;
	int64_t code[2];
	int32_t flavor;
	uint32_t old_stateCnt;
	uint32_t old_state[CG_MACH_STATE_MAX_WORDS];
} cg_mach_exc_raise_state_request; /* 2406, 64 + 4 * 1296 */

typedef struct {
	cg_mach_msg_header Head;
	cg_mach_msg_body msgh_body;
	cg_mach_port_descriptor thread;
	cg_mach_port_descriptor task;
	cg_ndr_record NDR;
	int32_t exception;
	uint32_t codeCnt;
	int64_t code[2];
	int32_t flavor;
	uint32_t old_stateCnt;
	uint32_t old_state[CG_MACH_STATE_MAX_WORDS];
} cg_mach_exc_raise_state_identity_request; /* 2407, 92 + 4 * 1296 */

typedef struct {
	cg_mach_msg_header Head;
	cg_ndr_record NDR;
	int32_t RetCode;
} cg_mig_reply_error; /* mig_reply_error_t and the 2505 reply, 36 */

typedef struct {
	cg_mach_msg_header Head;
	cg_ndr_record NDR;
	int32_t RetCode;
	int32_t flavor;
	uint32_t new_stateCnt;
	uint32_t new_state[CG_MACH_STATE_MAX_WORDS];
} cg_mach_exc_raise_state_reply; /* 2506/2507, 44 + 4 * 1296 */
#pragma pack(pop)

/* NDR_record's bytes: {0, 0, 0, 0, 1, 0, 0, 0} (int_rep little-endian).
 * NDR_record itself is a libsystem_kernel variable, not a constant, so on
 * darwin cg_mach_install compares the two before installing anything. */
extern const unsigned char cg_mach_ndr_record[CG_MACH_NDR_SIZE];

/* ---- Decoded forms. ---- */

/* Result of a decode. */
enum {
	CG_MACH_OK = 0,
	/* Shorter than a header: nothing to reply to; destroy it. */
	CG_MACH_NO_HEADER = 1,
	/* Not a message id this server knows: reply MIG_BAD_ID. */
	CG_MACH_BAD_ID = 2,
	/* Known id but malformed (size, complex bit, descriptors, counts):
	 * reply MIG_BAD_ARGUMENTS, as a MIG server's check function does. */
	CG_MACH_BAD_ARGS = 3
};

/* A decoded exception request. Port fields are names in the receiver's
 * space; state points into the decoded buffer (NULL when there is none). */
typedef struct {
	uint32_t msgh_bits;
	uint32_t msgh_size;
	uint32_t reply_port; /* msgh_remote_port: the send-once right to reply on */
	uint32_t local_port; /* msgh_local_port: the port it arrived on */
	int32_t id;
	uint32_t thread_port; /* 2405/2407 only */
	uint32_t task_port;   /* 2405/2407 only */
	int32_t exception;
	uint32_t code_count;
	int64_t code[2]; /* code[i] for i >= code_count is 0 */
	int32_t flavor;  /* 2406/2407 */
	uint32_t state_count;  /* 32-bit words */
	uint32_t state_offset; /* byte offset of old_state in the message, 0 if none */
	const void *state;
} cg_mach_request;

/* Decodes a request of len bytes, len being the message size without the
 * trailer (msgh_size of a received message; the kernel puts the trailer at
 * round_msg(msgh_size), so the receive buffer holds msgh_size + trailer).
 * Never reads outside buf[0:len]. On CG_MACH_BAD_ID and CG_MACH_BAD_ARGS the
 * header fields of out (msgh_bits, msgh_size, reply_port, local_port, id) are
 * set so a reply can still be encoded. */
int cg_mach_decode_request(const void *buf, size_t len, cg_mach_request *out);

/* The RetCode a server replies with for a decode status: KERN_SUCCESS for
 * CG_MACH_OK (the handler decides), MIG_BAD_ID, MIG_BAD_ARGUMENTS. */
int32_t cg_mach_status_retcode(int status);

/* Encodes the reply to req with retcode into out (cap bytes). Returns the
 * reply size, or 0 when cap is too small.
 *   - id = req->id + 100; msgh_bits = MACH_MSGH_BITS(REMOTE(req bits), 0);
 *     remote port = req->reply_port; local port 0; not complex; NDR_record.
 *   - 36 bytes (mig_reply_error_t) for 2405, for any non-success retcode and
 *     for unknown ids (MIG_BAD_ID);
 *   - 44 + 4n for KERN_SUCCESS on 2406/2407, carrying req's flavor and state
 *     unchanged. Note: KERN_SUCCESS with an unchanged state makes the
 *     faulting instruction run again and fault again, forever
 *     (microsoft/plcrashreporter issue 159); crashguard never sends it. */
size_t cg_mach_encode_reply(const cg_mach_request *req, int32_t retcode, void *out, size_t cap);

/* As cg_mach_encode_reply, with the new state given explicitly (used only
 * for KERN_SUCCESS on 2402/2403/2406/2407). Returns 0 when state_count is
 * over CG_MACH_STATE_MAX_WORDS or cap is too small. */
size_t cg_mach_encode_reply_state(const cg_mach_request *req, int32_t retcode, int32_t flavor,
				  const void *state, uint32_t state_count, void *out, size_t cap);

/* An exception to forward to a previously installed handler, re-encoded for
 * that handler's behavior (what the kernel would have sent it). */
typedef struct {
	uint32_t dest_port;   /* the previous handler's port: COPY_SEND */
	uint32_t reply_port;  /* a receive right of ours: MAKE_SEND_ONCE */
	uint32_t behavior;    /* the previous handler's behavior, flags included */
	uint32_t thread_port; /* COPY_SEND (identity behaviors) */
	uint32_t task_port;   /* COPY_SEND (identity behaviors) */
	int32_t exception;
	uint32_t code_count;
	int64_t code[2]; /* truncated to 32 bits without MACH_EXCEPTION_CODES,
			    as xnu exception_deliver does */
	int32_t flavor;  /* state behaviors */
	uint32_t state_count;
	const void *state;
} cg_mach_forward;

/* The request id a handler with this behavior expects: 2401..2403 without
 * MACH_EXCEPTION_CODES, 2405..2407 with it; 0 for a behavior crashguard
 * cannot forward faithfully (EXCEPTION_IDENTITY_PROTECTED and newer). */
int32_t cg_mach_forward_id(uint32_t behavior);

/* Encodes f as the request MIG's client stub would send. Returns the size,
 * or 0 when the behavior is not forwardable, a count is out of range, or cap
 * is too small. */
size_t cg_mach_encode_forward(const cg_mach_forward *f, void *out, size_t cap);

/* A decoded reply from a handler we forwarded to. */
typedef struct {
	int32_t id;
	int32_t retcode;
	int32_t flavor;        /* success on a state behavior only */
	uint32_t state_count;  /* words */
	uint32_t state_offset; /* 0 if none */
	const void *state;
} cg_mach_reply;

/* Decodes a reply of len bytes to a request with id request_id (MIG's client
 * side checks): CG_MACH_BAD_ID when the id is not request_id + 100
 * (MIG_REPLY_MISMATCH), CG_MACH_BAD_ARGS when the size, complex bit or state
 * count do not fit (MIG_TYPE_ERROR). A non-success RetCode carries no state. */
int cg_mach_decode_reply(const void *buf, size_t len, int32_t request_id, cg_mach_reply *out);

/* ---- The Mach exception server (cg_mach_server_darwin.c): darwin, and the
 * model of xnu that tests it (CG_MACHSIM, internal/native/machsim). ---- */
#if defined(__APPLE__) || defined(CG_MACHSIM)
/* Result of cg_mach_install. */
enum {
	CG_MACH_INSTALLED = 1,
	CG_MACH_SKIPPED_TRACED = 0, /* a debugger is attached (P_TRACED) */
	CG_MACH_FAILED = -1         /* *kr and *what say which call failed */
};
int cg_mach_install(int32_t *kr, const char **what);
/* on != 0: swap the task's EXC_CRASH port for MACH_PORT_NULL, keeping the
 * previous one; on == 0: restore it. Returns KERN_SUCCESS or the failing
 * kern_return_t (*what names the call). */
int32_t cg_mach_set_crash_port_null(int on, const char **what);
/* Fork child (atfork): takes the server's EXC_BAD_ACCESS port off the
 * child's task (MACH_PORT_NULL). Async-signal-safe. */
void cg_mach_after_fork_child(void);
/* 1 once the serving loop has ended (handlers restored first). */
int cg_mach_serving_ended(void);
#endif

#ifdef __cplusplus
}
#endif
#endif /* CG_MACHMSG_H */
