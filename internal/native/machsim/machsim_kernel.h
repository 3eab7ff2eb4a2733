/*
 * machsim_kernel.h: what cg_mach_kernel.h resolves to under CG_MACHSIM.
 *
 * 1. The Mach types and constants the server uses: on darwin the SDK's own
 *    (<mach/mach.h>); elsewhere the definitions below, whose values the
 *    darwin build of this package checks one by one against the SDK
 *    (CGSIM_CHECK below; .ci/darwin-build.sh builds it with -Werror).
 * 2. The server's kernel calls, renamed onto the model (ipc.c, exception.c, api.c).
 * 3. The server's and codec's public symbols, renamed so this package links
 *    beside internal/native (which has its own copies on every platform).
 */
#ifndef MACHSIM_KERNEL_H
#define MACHSIM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* Values from the macOS SDK (<mach/message.h>, <mach/kern_return.h>,
 * <mach/exception_types.h>, <mach/port.h>, <mach/thread_status.h>). */
#define CGSIM_CONSTANTS(X)                                                                         \
	X(KERN_SUCCESS, 0)                                                                         \
	X(KERN_INVALID_ADDRESS, 1)                                                                 \
	X(KERN_PROTECTION_FAILURE, 2)                                                              \
	X(KERN_INVALID_ARGUMENT, 4)                                                                \
	X(KERN_FAILURE, 5)                                                                         \
	X(KERN_INVALID_NAME, 15)                                                                   \
	X(KERN_INVALID_RIGHT, 17)                                                                  \
	X(KERN_INVALID_VALUE, 18)                                                                  \
	X(KERN_DENIED, 53)                                                                         \
	X(MACH_MSG_SUCCESS, 0)                                                                     \
	X(MACH_SEND_MSG, 0x1)                                                                      \
	X(MACH_RCV_MSG, 0x2)                                                                       \
	X(MACH_RCV_LARGE, 0x4)                                                                     \
	X(MACH_SEND_TIMEOUT, 0x10)                                                                 \
	X(MACH_RCV_TIMEOUT, 0x100)                                                                 \
	X(MACH_MSG_TIMEOUT_NONE, 0)                                                                \
	X(MACH_SEND_INVALID_DEST, 0x10000003)                                                      \
	X(MACH_SEND_TIMED_OUT, 0x10000004)                                                         \
	X(MACH_SEND_INTERRUPTED, 0x10000007)                                                       \
	X(MACH_SEND_INVALID_RIGHT, 0x1000000a)                                                     \
	X(MACH_RCV_INVALID_NAME, 0x10004002)                                                       \
	X(MACH_RCV_TIMED_OUT, 0x10004003)                                                          \
	X(MACH_RCV_TOO_LARGE, 0x10004004)                                                          \
	X(MACH_RCV_INTERRUPTED, 0x10004005)                                                        \
	X(MACH_RCV_PORT_DIED, 0x10004009)                                                          \
	X(MACH_RCV_HEADER_ERROR, 0x1000400b)                                                       \
	X(MACH_MSG_IPC_SPACE, 0x2000)                                                              \
	X(MACH_MSG_TYPE_MOVE_RECEIVE, 16)                                                          \
	X(MACH_MSG_TYPE_MOVE_SEND, 17)                                                             \
	X(MACH_MSG_TYPE_MOVE_SEND_ONCE, 18)                                                        \
	X(MACH_MSG_TYPE_COPY_SEND, 19)                                                             \
	X(MACH_MSG_TYPE_MAKE_SEND, 20)                                                             \
	X(MACH_MSG_TYPE_MAKE_SEND_ONCE, 21)                                                        \
	X(MACH_MSG_PORT_DESCRIPTOR, 0)                                                             \
	X(MACH_NOTIFY_SEND_ONCE, 0107)                                                             \
	X(MACH_PORT_RIGHT_SEND, 0)                                                                 \
	X(MACH_PORT_RIGHT_RECEIVE, 1)                                                              \
	X(MACH_PORT_RIGHT_SEND_ONCE, 2)                                                            \
	X(MACH_PORT_RIGHT_DEAD_NAME, 4)                                                            \
	X(EXC_BAD_ACCESS, 1)                                                                       \
	X(EXC_CRASH, 10)                                                                           \
	X(EXC_CORPSE_NOTIFY, 13)                                                                   \
	X(EXC_TYPES_COUNT, 14)                                                                     \
	X(EXC_MASK_BAD_ACCESS, 1 << 1)                                                             \
	X(EXC_MASK_CRASH, 1 << 10)                                                                 \
	X(EXC_MASK_CORPSE_NOTIFY, 1 << 13)                                                         \
	X(EXCEPTION_DEFAULT, 1)                                                                    \
	X(EXCEPTION_STATE, 2)                                                                      \
	X(EXCEPTION_STATE_IDENTITY, 3)                                                             \
	X(MAX_TRAILER_SIZE, 68)

/* Differ by architecture. */
#if defined(__aarch64__) || defined(__arm64__)
#define CGSIM_ARCH_CONSTANTS(X)                                                                    \
	X(THREAD_STATE_NONE, 5) X(ARM_THREAD_STATE64, 6) X(THREAD_STATE_MAX, 1296)
#define CGSIM_NATIVE_FLAVOR 6
#define CGSIM_NATIVE_COUNT 68
#else
#define CGSIM_ARCH_CONSTANTS(X)                                                                    \
	X(THREAD_STATE_NONE, 13) X(x86_THREAD_STATE64, 4) X(THREAD_STATE_MAX, 614)
#define CGSIM_NATIVE_FLAVOR 4
#define CGSIM_NATIVE_COUNT 42
#endif

#if defined(__APPLE__)
#include <mach/mach.h>
#define CGSIM_CHECK(name, value) _Static_assert((long long)(name) == (long long)(value), #name);
CGSIM_CONSTANTS(CGSIM_CHECK)
CGSIM_ARCH_CONSTANTS(CGSIM_CHECK)
_Static_assert((unsigned)MACH_EXCEPTION_CODES == 0x80000000u, "MACH_EXCEPTION_CODES");
_Static_assert((unsigned)MACH_MSGH_BITS_COMPLEX == 0x80000000u, "MACH_MSGH_BITS_COMPLEX");
_Static_assert(sizeof(mach_msg_header_t) == 24, "mach_msg_header_t");
#else
typedef int kern_return_t;
typedef unsigned int natural_t;
typedef int integer_t;
typedef natural_t mach_port_name_t;
typedef mach_port_name_t mach_port_t;
typedef mach_port_t task_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef mach_port_t ipc_space_t;
typedef kern_return_t mach_msg_return_t;
typedef integer_t mach_msg_option_t;
typedef natural_t mach_msg_size_t;
typedef natural_t mach_msg_timeout_t;
typedef natural_t mach_msg_type_number_t;
typedef natural_t mach_port_right_t;
typedef integer_t mach_port_delta_t;
typedef unsigned int mach_msg_bits_t;
typedef unsigned int mach_msg_type_name_t;
typedef integer_t mach_msg_id_t;
typedef unsigned int exception_mask_t;
typedef int exception_behavior_t;
typedef int exception_type_t;
typedef int thread_state_flavor_t;
typedef natural_t *thread_state_t;
typedef exception_mask_t *exception_mask_array_t;
typedef mach_port_t *exception_handler_array_t;
typedef exception_behavior_t *exception_behavior_array_t;
typedef thread_state_flavor_t *exception_flavor_array_t;

typedef struct {
	mach_msg_bits_t msgh_bits;
	mach_msg_size_t msgh_size;
	mach_port_t msgh_remote_port;
	mach_port_t msgh_local_port;
	mach_port_name_t msgh_voucher_port;
	mach_msg_id_t msgh_id;
} mach_msg_header_t;

#define CGSIM_ENUM(name, value) name = (value),
enum { CGSIM_CONSTANTS(CGSIM_ENUM) CGSIM_ARCH_CONSTANTS(CGSIM_ENUM) };
#define MACH_EXCEPTION_CODES 0x80000000u
#define MACH_MSGH_BITS_COMPLEX 0x80000000u
#define MACH_MSGH_BITS_REMOTE_MASK 0x0000001fu
#define MACH_MSGH_BITS_LOCAL_MASK 0x00001f00u
#define MACH_MSGH_BITS(remote, local) ((remote) | ((local) << 8))
#define MACH_MSGH_BITS_REMOTE(bits) ((bits)&MACH_MSGH_BITS_REMOTE_MASK)
#define MACH_MSGH_BITS_LOCAL(bits) (((bits)&MACH_MSGH_BITS_LOCAL_MASK) >> 8)
#define MACH_PORT_NULL 0
#define MACH_PORT_DEAD ((mach_port_name_t)~0)
#define MACH_PORT_VALID(name) (((name) != MACH_PORT_NULL) && ((name) != MACH_PORT_DEAD))
#endif

/* ---- The model's kernel calls (ipc.c, exception.c). ---- */
mach_msg_return_t simk_mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
				mach_msg_size_t send_size, mach_msg_size_t rcv_size,
				mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
				mach_port_name_t notify);
void simk_mach_msg_destroy(mach_msg_header_t *msg);
mach_port_t simk_task_self(void);
mach_port_t simk_thread_self(void);
kern_return_t simk_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t *name);
kern_return_t simk_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
				     mach_msg_type_name_t poly_poly);
kern_return_t simk_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
				 mach_port_delta_t delta);
kern_return_t simk_port_deallocate(ipc_space_t task, mach_port_name_t name);
kern_return_t simk_task_swap_exception_ports(task_t task, exception_mask_t mask, mach_port_t port,
					     exception_behavior_t behavior,
					     thread_state_flavor_t flavor, exception_mask_array_t masks,
					     mach_msg_type_number_t *count,
					     exception_handler_array_t ports,
					     exception_behavior_array_t behaviors,
					     exception_flavor_array_t flavors);
kern_return_t simk_task_get_exception_ports(task_t task, exception_mask_t mask,
					    exception_mask_array_t masks,
					    mach_msg_type_number_t *count,
					    exception_handler_array_t ports,
					    exception_behavior_array_t behaviors,
					    exception_flavor_array_t flavors);
kern_return_t simk_task_set_exception_ports(task_t task, exception_mask_t mask, mach_port_t port,
					    exception_behavior_t behavior,
					    thread_state_flavor_t flavor);
kern_return_t simk_thread_set_exception_ports(thread_act_t thread, exception_mask_t mask,
					      mach_port_t port, exception_behavior_t behavior,
					      thread_state_flavor_t flavor);
kern_return_t simk_thread_get_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t *count);
kern_return_t simk_thread_set_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t count);
void simk_set_mach_layer(int on);
int simk_record_mach_exception(uint64_t thread_id, int32_t exception, int64_t code,
			       int64_t subcode, const uint64_t *regs, uint32_t nregs, uint64_t pc,
			       uint64_t sp, uint64_t fp, uint64_t lr);

#if !defined(MACHSIM_MODEL)
/* 2. The server's calls, onto the model. */
#undef mach_task_self
#define mach_msg simk_mach_msg
#define mach_msg_destroy simk_mach_msg_destroy
#define mach_task_self() simk_task_self()
#define mach_thread_self simk_thread_self
#define mach_port_allocate simk_port_allocate
#define mach_port_insert_right simk_port_insert_right
#define mach_port_mod_refs simk_port_mod_refs
#define mach_port_deallocate simk_port_deallocate
#define task_swap_exception_ports simk_task_swap_exception_ports
#define task_get_exception_ports simk_task_get_exception_ports
#define task_set_exception_ports simk_task_set_exception_ports
#define thread_set_exception_ports simk_thread_set_exception_ports
#define thread_get_state simk_thread_get_state
#define thread_set_state simk_thread_set_state
#define cg_record_mach_exception simk_record_mach_exception
#define cg_set_mach_layer simk_set_mach_layer
#endif

/* 3. Public symbols of the server and the codec, renamed in this package. */
#define cg_mach_install sim_cg_mach_install
#define cg_mach_set_crash_port_null sim_cg_mach_set_crash_port_null
#define cg_mach_after_fork_child sim_cg_mach_after_fork_child
#define cg_mach_serving_ended sim_cg_mach_serving_ended
#define cg_mach_thread_facts_get sim_cg_mach_thread_facts_get
#define cg_mach_native_flavor sim_cg_mach_native_flavor
#define cg_mach_start_thread sim_cg_mach_start_thread
#define cg_mach_name_thread sim_cg_mach_name_thread
#define cg_mach_now_ms sim_cg_mach_now_ms
#define cg_mach_sleep_ms sim_cg_mach_sleep_ms
#define cg_mach_being_traced sim_cg_mach_being_traced
#define cg_mach_ndr_ok sim_cg_mach_ndr_ok
#define cg_mach_decode_request sim_cg_mach_decode_request
#define cg_mach_status_retcode sim_cg_mach_status_retcode
#define cg_mach_encode_reply sim_cg_mach_encode_reply
#define cg_mach_encode_reply_state sim_cg_mach_encode_reply_state
#define cg_mach_forward_id sim_cg_mach_forward_id
#define cg_mach_encode_forward sim_cg_mach_encode_forward
#define cg_mach_decode_reply sim_cg_mach_decode_reply
#define cg_mach_ndr_record sim_cg_mach_ndr_record

#endif /* MACHSIM_KERNEL_H */
