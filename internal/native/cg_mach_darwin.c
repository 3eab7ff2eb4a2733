//go:build cgo && darwin

/*
 * cg_mach_darwin.c: the Mach exception thread (darwin only).
 *
 * A first-chance handler for EXC_BAD_ACCESS at the task level. For each
 * exception it records what the kernel knows (exception, code, subcode, the
 * faulting thread's registers) through cg_record_mach_exception, then
 * forwards the exception to the handler it displaced, or answers
 * KERN_FAILURE so the kernel goes on to the host level, which turns it into
 * SIGSEGV/SIGBUS (xnu osfmk/kern/ux_handler.c) and Go's handler runs as if we
 * were not here. It never answers KERN_SUCCESS on its own: with the thread
 * state unchanged the instruction faults again, forever
 * (microsoft/plcrashreporter issue 159).
 *
 * The thread is a plain pthread created here with every signal blocked; it
 * never calls into Go, never mallocs (static buffers), and every wait other
 * than the idle receive is bounded by a mach_msg timeout.
 *
 * Message bytes are decoded and encoded by the pure functions of
 * cg_machmsg.c, which are unit-tested on Linux; what stays here is the
 * system calls, compile-checked by .ci/darwin-build.sh.
 *
 * Known limits (documented in mach_darwin.go): a fault on this thread itself
 * would wait for this thread forever (KSCrash runs a second handler thread
 * for that); a handler installed after ours (a debugger attaching later)
 * takes over the port and we see nothing until it restores ours.
 */
#include "cg_machmsg.h"
#include "cg_recorder.h"

#include <mach/mach.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <unistd.h>

/* Sending a reply to a send-once right never blocks (libsyscall
 * mach_msg.c mach_msg_server), but the bound costs nothing. */
#define CG_MACH_REPLY_TIMEOUT_MS 1000
/* How long a previous handler may take to answer a forwarded exception.
 * An out-of-process reporter writes its dump while the thread waits, so
 * this is generous; past it we answer KERN_FAILURE ourselves. */
#define CG_MACH_FORWARD_TIMEOUT_MS 5000
/* Consecutive receive errors after which the thread gives up (the port is
 * broken; the signal chain still records faults). */
#define CG_MACH_MAX_RECEIVE_ERRORS 16
/* How long a message may wait for install to publish the saved ports. */
#define CG_MACH_PREV_WAIT_MS 100

/* Exception ports as task_get/task_swap_exception_ports return them. */
typedef struct {
	mach_msg_type_number_t count;
	exception_mask_t masks[EXC_TYPES_COUNT];
	mach_port_t ports[EXC_TYPES_COUNT];
	exception_behavior_t behaviors[EXC_TYPES_COUNT];
	thread_state_flavor_t flavors[EXC_TYPES_COUNT];
} cg_exc_ports;

/* Install state, touched only under g_lock (from Go, never the crash path). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_installed;
static cg_exc_ports g_crash_saved;
static int g_crash_null;

/* The EXC_BAD_ACCESS handlers we displaced. task_swap_exception_ports fills
 * it in after the kernel already routes faults to us, so the exception
 * thread reads it only once g_prev_ready says it is complete. */
static cg_exc_ports g_prev;
static atomic_int g_prev_ready;

/* Buffers of the exception thread (only that thread uses them). A request
 * is at most CG_MACH_REQUEST_MAX_SIZE; the kernel appends a trailer at
 * round_msg(msgh_size), at most MAX_TRAILER_SIZE. */
typedef union {
	mach_msg_header_t head;
	uint64_t align;
	unsigned char bytes[CG_MACH_REQUEST_MAX_SIZE + MAX_TRAILER_SIZE];
} cg_msg_buffer;
static cg_msg_buffer g_rcv;   /* requests from the kernel */
static cg_msg_buffer g_fwd;   /* a forwarded request, then its reply */
static cg_msg_buffer g_reply; /* our replies */
static natural_t g_fwd_state[CG_MACH_STATE_MAX_WORDS];

_Static_assert(CG_MACH_REPLY_MAX_SIZE <= CG_MACH_REQUEST_MAX_SIZE, "replies fit the buffers");

/* A debugger (lldb's debugserver) owns the task's exception ports while it
 * is attached; in-process reporters stay out of its way (KSCrash
 * KSDebug.c ksdebug_isBeingTraced, Apple QA1361). */
static int being_traced(void)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, getpid()};
	struct kinfo_proc info;
	size_t size = sizeof info;
	memset(&info, 0, sizeof info);
	if (sysctl(mib, 4, &info, &size, NULL, 0) != 0)
		return 0;
	return (info.kp_proc.p_flag & P_TRACED) != 0;
}

/* Releases the rights of a message that was not sent, as libsyscall's
 * mach_msg_server_consume_unsent_message does after MACH_SEND_INVALID_DEST,
 * MACH_SEND_TIMED_OUT or MACH_SEND_INTERRUPTED (the kernel handed the
 * rights back by pseudo-receive). */
static void consume_unsent(mach_msg_header_t *h)
{
	mach_msg_type_name_t local = MACH_MSGH_BITS_LOCAL(h->msgh_bits);
	if (MACH_PORT_VALID(h->msgh_local_port) &&
	    (local == MACH_MSG_TYPE_MOVE_SEND || local == MACH_MSG_TYPE_MOVE_SEND_ONCE)) {
		(void)mach_port_deallocate(mach_task_self(), h->msgh_local_port);
		h->msgh_local_port = MACH_PORT_NULL;
	}
	mach_msg_destroy(h);
}

static int send_failed_recoverably(mach_msg_return_t mr)
{
	return mr == MACH_SEND_INVALID_DEST || mr == MACH_SEND_TIMED_OUT ||
	       mr == MACH_SEND_INTERRUPTED;
}

/* Destroys a receive right of ours: any send-once right a late replier
 * still holds turns into a dead name on their side. */
static void destroy_receive_right(mach_port_t port)
{
	(void)mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
}

/* Records the exception for the crash report. The thread port may be the
 * read-only flavor (xnu exception.c exception_deliver sends
 * convert_thread_read_to_port unless Developer Mode is on); thread_info and
 * thread_get_state accept it. */
static void record_exception(const cg_mach_request *req)
{
	thread_t thread = (thread_t)req->thread_port;

	uint64_t thread_id = 0;
	thread_identifier_info_data_t ident;
	mach_msg_type_number_t ident_count = THREAD_IDENTIFIER_INFO_COUNT;
	if (thread_info(thread, THREAD_IDENTIFIER_INFO, (thread_info_t)&ident, &ident_count) ==
	    KERN_SUCCESS)
		thread_id = ident.thread_id; /* the value pthread_threadid_np reports */

	/* Registers in the order of the thread state struct. */
	uint64_t regs[CG_MAX_REGS];
	uint32_t nregs = 0;
	uint64_t pc = 0, sp = 0, fp = 0, lr = 0;
#if defined(__arm64__)
	/* x0-x28, fp, lr, sp, pc, cpsr (mach/arm/_structs.h). A plain arm64
	 * process's state carries no pointer authentication; the accessors
	 * are the SDK's own, correct for arm64e too. */
	arm_thread_state64_t ts;
	mach_msg_type_number_t count = ARM_THREAD_STATE64_COUNT;
	if (thread_get_state(thread, ARM_THREAD_STATE64, (thread_state_t)&ts, &count) ==
	    KERN_SUCCESS) {
		pc = (uint64_t)arm_thread_state64_get_pc(ts);
		sp = (uint64_t)arm_thread_state64_get_sp(ts);
		fp = (uint64_t)arm_thread_state64_get_fp(ts);
		lr = (uint64_t)arm_thread_state64_get_lr(ts);
		for (int i = 0; i < 29; i++)
			regs[nregs++] = ts.__x[i];
		regs[nregs++] = fp;
		regs[nregs++] = lr;
		regs[nregs++] = sp;
		regs[nregs++] = pc;
		regs[nregs++] = ts.__cpsr;
	}
#elif defined(__x86_64__)
	/* rax rbx rcx rdx rdi rsi rbp rsp r8-r15 rip rflags cs fs gs
	 * (mach/i386/_structs.h). */
	x86_thread_state64_t ts;
	mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
	if (thread_get_state(thread, x86_THREAD_STATE64, (thread_state_t)&ts, &count) ==
	    KERN_SUCCESS) {
		const uint64_t all[] = {ts.__rax, ts.__rbx, ts.__rcx,    ts.__rdx, ts.__rdi, ts.__rsi,
					ts.__rbp, ts.__rsp, ts.__r8,     ts.__r9,  ts.__r10, ts.__r11,
					ts.__r12, ts.__r13, ts.__r14,    ts.__r15, ts.__rip, ts.__rflags,
					ts.__cs,  ts.__fs,  ts.__gs};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			regs[nregs++] = all[i];
		pc = ts.__rip;
		sp = ts.__rsp;
		fp = ts.__rbp;
	}
#endif
	/* code[0] is the kern_return_t (KERN_INVALID_ADDRESS -> SIGSEGV,
	 * KERN_PROTECTION_FAILURE -> SIGBUS), code[1] the fault address. */
	(void)cg_record_mach_exception(thread_id, req->exception, req->code[0], req->code[1], regs,
				       nregs, pc, sp, fp, lr);
}

/* Sends req to a handler registered with behavior/flavor, waits (bounded)
 * for its answer and returns its RetCode, as the kernel would have obtained
 * it (xnu exception.c exception_deliver; PLCrashReporter
 * PLCrashMachExceptionServer.m exception_server_forward does the same with
 * MIG stubs). KERN_FAILURE when it cannot be done faithfully. */
static kern_return_t forward_exception(const cg_mach_request *req, mach_port_t port,
				       exception_behavior_t behavior, thread_state_flavor_t flavor)
{
	int32_t id = cg_mach_forward_id((uint32_t)behavior);
	if (id == 0)
		return KERN_FAILURE; /* e.g. EXCEPTION_IDENTITY_PROTECTED */
	int with_state = id != CG_MACH_ID_RAISE && id != CG_MACH_ID_EXC_RAISE;

	cg_mach_forward f;
	memset(&f, 0, sizeof f);
	f.dest_port = port;
	f.behavior = (uint32_t)behavior;
	f.thread_port = req->thread_port;
	f.task_port = req->task_port;
	f.exception = req->exception;
	f.code_count = req->code_count;
	f.code[0] = req->code[0];
	f.code[1] = req->code[1];
	if (with_state) {
		/* The state the kernel would have sent: the handler's flavor. */
		mach_msg_type_number_t count = THREAD_STATE_MAX;
		if (thread_get_state((thread_t)req->thread_port, flavor, g_fwd_state, &count) !=
		    KERN_SUCCESS)
			return KERN_FAILURE;
		f.flavor = flavor;
		f.state = g_fwd_state;
		f.state_count = count;
	}

	mach_port_t reply = MACH_PORT_NULL;
	if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &reply) != KERN_SUCCESS)
		return KERN_FAILURE;
	f.reply_port = reply;
	size_t size = cg_mach_encode_forward(&f, g_fwd.bytes, sizeof g_fwd.bytes);
	if (size == 0) {
		destroy_receive_right(reply);
		return KERN_FAILURE;
	}

	/* One call sends (MAKE_SEND_ONCE of our reply port, COPY_SEND of the
	 * rest, so we keep our own references) and receives the answer; each
	 * half has its own timeout. */
	mach_msg_return_t mr =
	    mach_msg(&g_fwd.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_TIMEOUT | MACH_RCV_TIMEOUT,
		     (mach_msg_size_t)size, (mach_msg_size_t)sizeof g_fwd.bytes, reply,
		     CG_MACH_FORWARD_TIMEOUT_MS, MACH_PORT_NULL);
	if (mr != MACH_MSG_SUCCESS) {
		/* Among the failures: MACH_SEND_INVALID_RIGHT when the thread or
		 * task port the kernel gave us may not move on (outside Developer
		 * Mode it sends immovable read ports, xnu exception.c). Other send
		 * errors leave the rights to the kernel, as in mach_msg_server. */
		if (send_failed_recoverably(mr))
			consume_unsent(&g_fwd.head);
		/* MACH_RCV_TIMED_OUT: the handler keeps a send-once right to a
		 * port that dies now; nobody waits on it. */
		destroy_receive_right(reply);
		return KERN_FAILURE;
	}

	cg_mach_reply rep;
	kern_return_t kr = KERN_FAILURE;
	if (cg_mach_decode_reply(g_fwd.bytes, g_fwd.head.msgh_size, id, &rep) == CG_MACH_OK) {
		kr = rep.retcode;
		if (kr == KERN_SUCCESS && with_state) {
			/* The kernel applies new_state for a state behavior's
			 * success; so do we, since our own reply carries none.
			 * (For STATE_IDENTITY the kernel skips this when it sent a
			 * read-only thread port; then thread_set_state fails here
			 * and we answer KERN_FAILURE: a signal, never a loop.) */
			memcpy(g_fwd_state, rep.state, 4 * (size_t)rep.state_count);
			kr = thread_set_state((thread_t)req->thread_port, rep.flavor, g_fwd_state,
					      rep.state_count);
		}
	}
	mach_msg_destroy(&g_fwd.head); /* a reply carries no rights; be sure */
	destroy_receive_right(reply);
	return kr;
}

/* The previous handler for EXC_BAD_ACCESS, if any. */
static int previous_handler(mach_port_t *port, exception_behavior_t *behavior,
			    thread_state_flavor_t *flavor)
{
	/* Bounded wait for install to finish publishing g_prev (a fault can
	 * reach us before task_swap_exception_ports has returned). */
	for (int i = 0; !atomic_load_explicit(&g_prev_ready, memory_order_acquire); i++) {
		if (i >= CG_MACH_PREV_WAIT_MS)
			return 0;
		usleep(1000);
	}
	for (mach_msg_type_number_t i = 0; i < g_prev.count && i < EXC_TYPES_COUNT; i++) {
		if ((g_prev.masks[i] & EXC_MASK_BAD_ACCESS) && MACH_PORT_VALID(g_prev.ports[i])) {
			*port = g_prev.ports[i];
			*behavior = g_prev.behaviors[i];
			*flavor = g_prev.flavors[i];
			return 1;
		}
	}
	return 0;
}

/* Handles a decoded mach_exception_raise (2405); returns the RetCode. */
static kern_return_t handle_exception(const cg_mach_request *req)
{
	if (req->exception != EXC_BAD_ACCESS)
		return KERN_FAILURE; /* the only exception we registered for */

	/* Exception ports are inherited across fork and exec (xnu ipc_tt.c,
	 * kern_exec.c): a child's fault can arrive here. Not ours: let its
	 * own kernel path run (crashpad client/crash_handler_ios.cc answers
	 * KERN_FAILURE for another task too). */
	int pid = -1;
	if (pid_for_task((mach_port_name_t)req->task_port, &pid) != KERN_SUCCESS || pid != getpid())
		return KERN_FAILURE;

	record_exception(req);

	mach_port_t port;
	exception_behavior_t behavior;
	thread_state_flavor_t flavor;
	if (previous_handler(&port, &behavior, &flavor))
		return forward_exception(req, port, behavior, flavor);
	/* No one before us: the host-level handler raises the signal. */
	return KERN_FAILURE;
}

/* Answers req with retcode; returns 1 if the reply right was consumed. */
static int send_reply(const cg_mach_request *req, kern_return_t retcode)
{
	if (req->reply_port == MACH_PORT_NULL)
		return 0;
	size_t size = cg_mach_encode_reply(req, retcode, g_reply.bytes, sizeof g_reply.bytes);
	if (size == 0)
		return 0;
	mach_msg_return_t mr = mach_msg(&g_reply.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
					(mach_msg_size_t)size, 0, MACH_PORT_NULL,
					CG_MACH_REPLY_TIMEOUT_MS, MACH_PORT_NULL);
	if (send_failed_recoverably(mr))
		consume_unsent(&g_reply.head);
	return 1;
}

static void handle_message(mach_msg_header_t *msg)
{
	cg_mach_request req;
	/* The kernel put msgh_size bytes of message before the trailer. */
	int status = cg_mach_decode_request(msg, msg->msgh_size, &req);
	if (status == CG_MACH_NO_HEADER) {
		mach_msg_destroy(msg);
		return;
	}
	kern_return_t retcode = KERN_FAILURE;
	if (status != CG_MACH_OK)
		retcode = cg_mach_status_retcode(status); /* MIG_BAD_ID, MIG_BAD_ARGUMENTS */
	else if (req.id == CG_MACH_ID_RAISE)
		retcode = handle_exception(&req);
	/* else 2406/2407: we registered EXCEPTION_DEFAULT only; KERN_FAILURE. */

	/* As mach_msg_server does (libsyscall mach_msg.c): the reply right
	 * went into the reply, everything else in the request (the thread and
	 * task send rights, a voucher) is released here. If no reply went out,
	 * destroying the reply right tells the kernel (MIG_SERVER_DIED), which
	 * moves on to the next handler. */
	if (send_reply(&req, retcode))
		msg->msgh_remote_port = MACH_PORT_NULL;
	mach_msg_destroy(msg);
}

static void *exception_thread(void *arg)
{
	/* Our port comes as the argument, not from a global: a thread left
	 * over from a failed install keeps to its own (dead) port. */
	mach_port_t port = (mach_port_t)(uintptr_t)arg;
	(void)pthread_setname_np("crashguard.mach-exc");
	int errors = 0;
	for (;;) {
		/* The idle wait: unbounded on purpose, nothing waits on us here.
		 * MACH_RCV_LARGE: a message too big for the buffer stays queued
		 * and we learn its size instead of silently losing it. */
		mach_msg_return_t mr =
		    mach_msg(&g_rcv.head, MACH_RCV_MSG | MACH_RCV_LARGE, 0,
			     (mach_msg_size_t)sizeof g_rcv.bytes, port, MACH_MSG_TIMEOUT_NONE,
			     MACH_PORT_NULL);
		if (mr == MACH_MSG_SUCCESS) {
			errors = 0;
			handle_message(&g_rcv.head);
			continue;
		}
		if (mr == MACH_RCV_TOO_LARGE) {
			/* No exception message is this big, so it is not one.
			 * Receive it again without MACH_RCV_LARGE and without
			 * waiting: the kernel dequeues and destroys it, rights and
			 * all (xnu mach_msg_receive_results), and its sender's
			 * reply right dies. */
			(void)mach_msg(&g_rcv.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0,
				       (mach_msg_size_t)sizeof g_rcv.bytes, port, 0, MACH_PORT_NULL);
			continue;
		}
		if (mr == MACH_RCV_INTERRUPTED)
			continue;
		/* MACH_RCV_PORT_DIED / MACH_RCV_INVALID_NAME: the port was
		 * destroyed (install failed after the thread started). */
		if (mr == MACH_RCV_PORT_DIED || mr == MACH_RCV_INVALID_NAME ||
		    ++errors > CG_MACH_MAX_RECEIVE_ERRORS)
			break;
	}
	return NULL;
}

static void destroy_port(mach_port_t port)
{
	destroy_receive_right(port);
	(void)mach_port_deallocate(mach_task_self(), port); /* the send right, now a dead name */
}

int cg_mach_install(int32_t *kr_out, const char **what)
{
	*kr_out = KERN_SUCCESS;
	*what = "";
	pthread_mutex_lock(&g_lock);
	if (g_installed) {
		pthread_mutex_unlock(&g_lock);
		return CG_MACH_INSTALLED;
	}
	if (being_traced()) {
		pthread_mutex_unlock(&g_lock);
		return CG_MACH_SKIPPED_TRACED;
	}

	/* The codec writes NDR_record from a constant; make sure it is this
	 * system's (it always has been: little-endian, ASCII, IEEE). */
	kern_return_t kr = KERN_FAILURE;
	if (memcmp(&NDR_record, cg_mach_ndr_record, sizeof NDR_record) != 0) {
		*what = "NDR_record check";
		goto fail;
	}

	mach_port_t self = mach_task_self();
	mach_port_t port = MACH_PORT_NULL;
	kr = mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port);
	if (kr != KERN_SUCCESS) {
		*what = "mach_port_allocate";
		goto fail;
	}
	/* The send right the kernel copies for each exception. */
	kr = mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND);
	if (kr != KERN_SUCCESS) {
		destroy_receive_right(port);
		*what = "mach_port_insert_right";
		goto fail;
	}

	/* The thread first, so no exception ever waits on an unserved port.
	 * Every signal blocked: it must never run a Go (or any) signal
	 * handler; pthread_create copies the creator's mask. */
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&thread, &attr, exception_thread, (void *)(uintptr_t)port);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		destroy_port(port);
		kr = err; /* an errno value, not a kern_return_t */
		*what = "pthread_create";
		goto fail;
	}

	/* Take EXC_BAD_ACCESS at the task level, 64-bit codes (the 32-bit
	 * messages truncate the fault address, KSCrash issue 810), no thread
	 * state in the message (we fetch it ourselves). Swap, not set: one
	 * atomic call that also hands back whoever had it, for forwarding. */
	g_prev.count = EXC_TYPES_COUNT;
	kr = task_swap_exception_ports(self, EXC_MASK_BAD_ACCESS, port,
				       (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES),
				       THREAD_STATE_NONE, g_prev.masks, &g_prev.count, g_prev.ports,
				       g_prev.behaviors, g_prev.flavors);
	if (kr != KERN_SUCCESS) {
		g_prev.count = 0;
		destroy_port(port); /* the thread sees MACH_RCV_PORT_DIED and ends */
		*what = "task_swap_exception_ports";
		goto fail;
	}
	atomic_store_explicit(&g_prev_ready, 1, memory_order_release);
	g_installed = 1;
	pthread_mutex_unlock(&g_lock);
	return CG_MACH_INSTALLED;

fail:
	*kr_out = kr;
	pthread_mutex_unlock(&g_lock);
	return CG_MACH_FAILED;
}

int32_t cg_mach_set_crash_port_null(int on, const char **what)
{
	mach_port_t self = mach_task_self();
	kern_return_t kr = KERN_SUCCESS;
	*what = "";
	pthread_mutex_lock(&g_lock);
	if (on && !g_crash_null) {
		/* Never a port of ours for EXC_CRASH: a receiver inside the
		 * crashing task is skipped (xnu exception.c
		 * check_exc_receiver_dependency). NULL only, keeping whatever
		 * was there (launchd's ReportCrash port) to put back. */
		g_crash_saved.count = EXC_TYPES_COUNT;
		kr = task_swap_exception_ports(
		    self, EXC_MASK_CRASH, MACH_PORT_NULL,
		    (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES), THREAD_STATE_NONE,
		    g_crash_saved.masks, &g_crash_saved.count, g_crash_saved.ports,
		    g_crash_saved.behaviors, g_crash_saved.flavors);
		if (kr == KERN_SUCCESS)
			g_crash_null = 1;
		else
			*what = "task_swap_exception_ports";
	} else if (!on && g_crash_null) {
		for (mach_msg_type_number_t i = 0; i < g_crash_saved.count && i < EXC_TYPES_COUNT; i++) {
			exception_mask_t mask = g_crash_saved.masks[i] & EXC_MASK_CRASH;
			if (mask == 0)
				continue;
			kern_return_t k = task_set_exception_ports(self, mask, g_crash_saved.ports[i],
								   g_crash_saved.behaviors[i],
								   g_crash_saved.flavors[i]);
			if (k != KERN_SUCCESS && kr == KERN_SUCCESS) {
				kr = k;
				*what = "task_set_exception_ports";
			}
		}
		/* The kernel copied the send rights it needed; drop ours. */
		for (mach_msg_type_number_t i = 0; i < g_crash_saved.count && i < EXC_TYPES_COUNT; i++)
			if (MACH_PORT_VALID(g_crash_saved.ports[i]))
				(void)mach_port_deallocate(self, g_crash_saved.ports[i]);
		g_crash_saved.count = 0;
		g_crash_null = 0;
	}
	pthread_mutex_unlock(&g_lock);
	return kr;
}
