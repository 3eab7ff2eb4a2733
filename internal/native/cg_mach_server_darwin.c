//go:build cgo

/*
 * cg_mach_server_darwin.c: the Mach exception server. darwin builds it as part of
 * the native layer; internal/native/machsim compiles this same file on Linux
 * against a model of xnu (every kernel call goes through cg_mach_kernel.h),
 * and the TestMachSim* tests drive it through the scenarios of issue 8.
 *
 * First level: a task-level port for EXC_BAD_ACCESS (64-bit codes), served
 * by one pthread. For each exception of this task it forwards to the handler
 * it displaced, if any (one deadline for the whole forward); if that handler
 * handled it the answer is relayed and nothing is recorded; otherwise it
 * records what the kernel knows (exception, codes, the thread's registers)
 * and answers KERN_FAILURE, so the kernel goes on to the host level, which
 * turns it into SIGSEGV/SIGBUS on the faulting thread (xnu-11417
 * osfmk/kern/exception.c exception_triage_thread, osfmk/kern/ux_handler.c)
 * and the signal chain completes the same record. It never answers
 * KERN_SUCCESS on its own: with the thread state unchanged the instruction
 * faults again, forever (microsoft/plcrashreporter issue 159).
 *
 * Second level: a thread-level port on the serving thread itself (thread
 * ports are tried before task ports, exception_triage_thread), served by a
 * second small thread. A fault of the serving thread would otherwise wait on
 * the only thread that reads the task port, and so would every later fault
 * of the process. It puts the displaced task-level handlers back, records
 * the fault and answers KERN_FAILURE; the serving thread runs with the
 * synchronous signals unblocked so the host-level signal lands (a blocked
 * one is only marked pending and the instruction re-faults forever: xnu
 * bsd/kern/kern_sig.c threadsignal). KSCrash 2.x (PR 675) has the same two
 * levels, one-shot; here both stay for the life of the process.
 *
 * The kernel waits for a reply without a timeout (osfmk/kern/ipc_mig.c
 * mach_msg_rpc_from_kernel, MACH_MSG_TIMEOUT_NONE), so this code never
 * leaves a registered port unserved: receive errors back off and retry, and
 * if the loop must end it first restores the displaced handlers and destroys
 * the receive right, which fails the queued requests (MIG_SERVER_DIED) on to
 * the next level.
 *
 * Crash path rules: no malloc (static buffers), no locks, no Go, every wait
 * bounded except the idle receives. Message bytes are decoded and encoded
 * by the pure functions of cg_machmsg.c.
 */
#include "cg_mach_kernel.h"
#include "cg_machmsg.h"
#include "cg_recorder.h"
#include "cg_signal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

/* Sending to a send-once right never blocks (libsyscall mach_msg.c
 * mach_msg_server); the bound costs nothing. */
#define CG_MACH_REPLY_TIMEOUT_MS 1000
/* One deadline for a whole forward to the displaced handler (send, wait,
 * answer). Every other fault of the process queues behind it. */
#define CG_MACH_FORWARD_DEADLINE_MS 2000
/* A foreign task's request is passed on, never waited for. */
#define CG_MACH_FOREIGN_SEND_TIMEOUT_MS 100
/* Receive errors: back off (1, 2, 4 ... 128 ms) and retry; after this many
 * in a row the port is taken to be broken and the loop ends, handlers
 * restored first. */
#define CG_MACH_MAX_RECEIVE_ERRORS 32
#define CG_MACH_BACKOFF_MAX_MS 128
/* How long a message may wait for install to publish the saved ports. */
#define CG_MACH_PREV_WAIT_MS 100

#define CG_MACH_THREAD_NAME "crashguard.mach-exc"
#define CG_MACH_THREAD2_NAME "crashguard.mach-exc2"

/* Exception ports as task_get/task_swap_exception_ports return them. */
typedef struct {
	mach_msg_type_number_t count;
	exception_mask_t masks[EXC_TYPES_COUNT];
	mach_port_t ports[EXC_TYPES_COUNT];
	exception_behavior_t behaviors[EXC_TYPES_COUNT];
	thread_state_flavor_t flavors[EXC_TYPES_COUNT];
} cg_exc_ports;

/* A request buffer: at most CG_MACH_REQUEST_MAX_SIZE, plus the trailer the
 * kernel appends at round_msg(msgh_size). */
typedef union {
	mach_msg_header_t head;
	uint64_t align;
	unsigned char bytes[CG_MACH_REQUEST_MAX_SIZE + MAX_TRAILER_SIZE];
} cg_msg_buffer;

_Static_assert(CG_MACH_REPLY_MAX_SIZE <= CG_MACH_REQUEST_MAX_SIZE, "replies fit the buffers");

/* ---- Globals ---- */
static struct {
	/* Install state, under lock (from Go, never the crash path). */
	pthread_mutex_t lock;
	int installed;
	cg_exc_ports crash_saved;
	int crash_null;
	/* The behavior we registered with (EXCEPTION_DEFAULT, or EXCEPTION_STATE
	 * when a hardened process refuses it). */
	exception_behavior_t behavior;

	/* The EXC_BAD_ACCESS handlers we displaced. task_swap_exception_ports
	 * fills it in after the kernel already routes faults to us, so the
	 * threads read it only once prev_ready says it is complete. */
	cg_exc_ports prev;
	atomic_int prev_ready;
	/* Set when the serving loop ended (after restoring the handlers). */
	atomic_int serving_ended;

	/* Buffers: the serving thread's, then the second level's. */
	cg_msg_buffer rcv, fwd, reply;
	natural_t fwd_state[CG_MACH_STATE_MAX_WORDS];
	cg_msg_buffer rcv2, reply2;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- Rights ---- */

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

/* Destroys a receive right of ours: queued requests die with it, and their
 * senders' reply rights with them (the kernel sees MIG_SERVER_DIED and
 * tries the next level); a late replier's send-once right becomes a dead
 * name. */
static void destroy_receive_right(mach_port_t port)
{
	(void)mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
}

static void destroy_port(mach_port_t port)
{
	destroy_receive_right(port);
	(void)mach_port_deallocate(mach_task_self(), port); /* the send right, now a dead name */
}

/* ---- The displaced handlers ---- */

static int prev_published(void)
{
	/* Bounded wait for install to finish publishing g.prev (a fault can
	 * reach us before task_swap_exception_ports has returned). */
	for (int i = 0; !atomic_load_explicit(&g.prev_ready, memory_order_acquire); i++) {
		if (i >= CG_MACH_PREV_WAIT_MS)
			return 0;
		cg_mach_sleep_ms(1);
	}
	return 1;
}

/* The previous handler for EXC_BAD_ACCESS, if any. */
static int previous_handler(mach_port_t *port, exception_behavior_t *behavior,
			    thread_state_flavor_t *flavor)
{
	if (!prev_published())
		return 0;
	for (mach_msg_type_number_t i = 0; i < g.prev.count && i < EXC_TYPES_COUNT; i++) {
		if ((g.prev.masks[i] & EXC_MASK_BAD_ACCESS) && MACH_PORT_VALID(g.prev.ports[i])) {
			*port = g.prev.ports[i];
			*behavior = g.prev.behaviors[i];
			*flavor = g.prev.flavors[i];
			return 1;
		}
	}
	return 0;
}

/* Takes EXC_BAD_ACCESS off task: its faults go to its own signal handlers.
 * A null port still needs a valid behavior and flavor (xnu
 * osfmk/kern/ipc_tt.c task_set_exception_ports checks them before it looks
 * at the port). */
static void clear_bad_access(task_t task)
{
	(void)task_set_exception_ports(task, EXC_MASK_BAD_ACCESS, MACH_PORT_NULL,
				       (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES),
				       THREAD_STATE_NONE);
}

/* Puts the displaced EXC_BAD_ACCESS handlers (or none) back on task, as they
 * were before install. task_set_exception_ports is a MIG call to the kernel,
 * with no lock or allocation on our side: safe on the exception threads. */
static void restore_task_handlers(task_t task)
{
	exception_mask_t covered = 0;
	if (atomic_load_explicit(&g.prev_ready, memory_order_acquire)) {
		for (mach_msg_type_number_t i = 0; i < g.prev.count && i < EXC_TYPES_COUNT; i++) {
			exception_mask_t mask = g.prev.masks[i] & EXC_MASK_BAD_ACCESS;
			if (mask == 0)
				continue;
			(void)task_set_exception_ports(task, mask, g.prev.ports[i], g.prev.behaviors[i],
						       g.prev.flavors[i]);
			covered |= mask;
		}
	}
	if (covered == 0)
		clear_bad_access(task);
}

/* Restores the displaced handlers on our own task if our port is still the
 * one registered there (a debugger that attached later owns it otherwise). */
static void unregister_port(mach_port_t port)
{
	cg_exc_ports cur;
	cur.count = EXC_TYPES_COUNT;
	kern_return_t kr = task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, cur.masks,
						    &cur.count, cur.ports, cur.behaviors,
						    cur.flavors);
	int ours = kr != KERN_SUCCESS; /* cannot tell: restore anyway */
	for (mach_msg_type_number_t i = 0; kr == KERN_SUCCESS && i < cur.count && i < EXC_TYPES_COUNT;
	     i++) {
		if (cur.ports[i] == port)
			ours = 1;
		/* task_get_exception_ports gave us a send right for each. */
		if (MACH_PORT_VALID(cur.ports[i]))
			(void)mach_port_deallocate(mach_task_self(), cur.ports[i]);
	}
	if (ours)
		restore_task_handlers(mach_task_self());
}

/* ---- Recording ---- */

/* Records the exception for the crash report. In-process, the thread port
 * the kernel sent is this task's control port: the kernel sends read ports
 * outside Developer Mode but substitutes the control port when copying them
 * into their own task (xnu osfmk/kern/ipc_tt.c, ipc_kobject.c
 * ipc_kobject_label_substitute_task_read); thread_info and thread_get_state
 * accept either (osfmk/mach/thread_act.defs). */
static void record_exception(const cg_mach_request *req)
{
	cg_mach_thread_facts f;
	(void)cg_mach_thread_facts_get((thread_t)req->thread_port, &f);
	/* code[0] is the kern_return_t (KERN_INVALID_ADDRESS -> SIGSEGV,
	 * KERN_PROTECTION_FAILURE -> SIGBUS) or an architecture code
	 * (EXC_I386_GPFLT, arm64 alignment), code[1] the fault address. */
	(void)cg_record_mach_exception(f.thread_id, req->exception, req->code[0], req->code[1],
				       f.regs, f.nregs, f.pc, f.sp, f.fp, f.lr);
}

/* ---- Forwarding ---- */

static mach_msg_timeout_t remaining_ms(uint64_t deadline)
{
	uint64_t now = cg_mach_now_ms();
	return now >= deadline ? 0 : (mach_msg_timeout_t)(deadline - now);
}

/* Sends f (encoded as request id) to the displaced handler and waits for
 * its reply until deadline. On KERN_SUCCESS *rep is the decoded reply in
 * g.fwd; either way the caller ends with exchange_done(*reply). Send and
 * receive are separate calls so one deadline covers both (a combined call
 * times each half on its own). */
static kern_return_t exchange(cg_mach_forward *f, int32_t id, uint64_t deadline,
			      cg_mach_reply *rep, mach_port_t *reply)
{
	*reply = MACH_PORT_NULL;
	if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, reply) != KERN_SUCCESS)
		return KERN_FAILURE;
	f->reply_port = *reply;
	size_t size = cg_mach_encode_forward(f, g.fwd.bytes, sizeof g.fwd.bytes);
	if (size == 0)
		return KERN_FAILURE;
	/* MAKE_SEND_ONCE of our reply port, COPY_SEND of the rest (we keep our
	 * own references). */
	mach_msg_return_t mr = mach_msg(&g.fwd.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
					(mach_msg_size_t)size, 0, MACH_PORT_NULL,
					remaining_ms(deadline), MACH_PORT_NULL);
	if (mr != MACH_MSG_SUCCESS) {
		/* Among the failures: MACH_SEND_INVALID_RIGHT when a port may not
		 * move on. Other send errors leave the rights to the kernel, as
		 * in mach_msg_server. */
		if (send_failed_recoverably(mr))
			consume_unsent(&g.fwd.head);
		return KERN_FAILURE;
	}
	do {
		mr = mach_msg(&g.fwd.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0,
			      (mach_msg_size_t)sizeof g.fwd.bytes, *reply, remaining_ms(deadline),
			      MACH_PORT_NULL);
	} while (mr == MACH_RCV_INTERRUPTED && remaining_ms(deadline) > 0);
	/* MACH_RCV_TIMED_OUT: the handler keeps a send-once right to a port
	 * that dies in exchange_done; nobody waits on it. */
	if (mr != MACH_MSG_SUCCESS)
		return KERN_FAILURE;
	kern_return_t kr = KERN_FAILURE;
	if (cg_mach_decode_reply(g.fwd.bytes, g.fwd.head.msgh_size, id, rep) == CG_MACH_OK)
		kr = rep->retcode;
	mach_msg_destroy(&g.fwd.head); /* a reply carries no rights; be sure */
	return kr;
}

static void exchange_done(mach_port_t reply)
{
	if (reply != MACH_PORT_NULL)
		destroy_receive_right(reply);
}

/* Sends req to a handler registered with behavior/flavor, waits for its
 * answer until one deadline for the whole exchange, and returns its RetCode
 * as the kernel would have obtained it (xnu exception.c exception_deliver;
 * PLCrashReporter PLCrashMachExceptionServer.m PLCrashMachExceptionForward
 * does the same with MIG stubs). KERN_FAILURE when it cannot be done
 * faithfully or in time. */
static kern_return_t forward_exception(const cg_mach_request *req, mach_port_t port,
				       exception_behavior_t behavior, thread_state_flavor_t flavor)
{
	uint64_t deadline = cg_mach_now_ms() + CG_MACH_FORWARD_DEADLINE_MS;
	int32_t id = cg_mach_forward_id((uint32_t)behavior);
	if (id == 0)
		return KERN_FAILURE; /* e.g. EXCEPTION_IDENTITY_PROTECTED */
	int with_state = id != CG_MACH_ID_RAISE && id != CG_MACH_ID_EXC_RAISE;
	int identity = id == CG_MACH_ID_RAISE_STATE_IDENTITY || id == CG_MACH_ID_EXC_RAISE_STATE_IDENTITY;

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
		mach_msg_type_number_t count = CG_MACH_STATE_MAX_WORDS;
		if (thread_get_state((thread_t)req->thread_port, flavor, g.fwd_state, &count) !=
		    KERN_SUCCESS)
			return KERN_FAILURE;
		f.flavor = flavor;
		f.state = g.fwd_state;
		f.state_count = count;
	}

	cg_mach_reply rep;
	mach_port_t reply;
	kern_return_t kr = exchange(&f, id, deadline, &rep, &reply);
	/* The kernel applies new_state on success for EXCEPTION_STATE always,
	 * but for STATE_IDENTITY only when it sent a control port, which
	 * outside Developer Mode it does not (xnu-11417 exception.c
	 * exception_deliver, ip_kotype == IKOT_THREAD_CONTROL): do the same;
	 * our own reply carries no state. */
	if (kr == KERN_SUCCESS && with_state && !identity) {
		memcpy(g.fwd_state, rep.state, 4 * (size_t)rep.state_count);
		if (thread_set_state((thread_t)req->thread_port, rep.flavor, g.fwd_state,
				     rep.state_count) != KERN_SUCCESS)
			kr = KERN_FAILURE; /* a signal, never a loop */
	}
	exchange_done(reply);
	return kr;
}

/* A hardened process registered EXCEPTION_STATE (see register_port): the
 * request carries the thread state but neither thread nor task port. A
 * displaced handler taking the same flavor as state gets it, and its new
 * state goes back in our reply for the kernel to apply. Writes the reply
 * into buf and returns its size, or 0 to answer KERN_FAILURE. Nothing is
 * recorded: without the thread's identity the record could never meet its
 * signal and would read as a crash. */
static size_t forward_state(const cg_mach_request *req, cg_msg_buffer *buf)
{
	mach_port_t port;
	exception_behavior_t behavior;
	thread_state_flavor_t flavor;
	if (req->exception != EXC_BAD_ACCESS || !previous_handler(&port, &behavior, &flavor))
		return 0;
	int32_t id = cg_mach_forward_id((uint32_t)behavior);
	if ((id != CG_MACH_ID_RAISE_STATE && id != CG_MACH_ID_EXC_RAISE_STATE) ||
	    flavor != req->flavor)
		return 0;
	cg_mach_forward f;
	memset(&f, 0, sizeof f);
	f.dest_port = port;
	f.behavior = (uint32_t)behavior;
	f.exception = req->exception;
	f.code_count = req->code_count;
	f.code[0] = req->code[0];
	f.code[1] = req->code[1];
	f.flavor = req->flavor;
	f.state = req->state;
	f.state_count = req->state_count;
	cg_mach_reply rep;
	mach_port_t reply;
	size_t size = 0;
	if (exchange(&f, id, cg_mach_now_ms() + CG_MACH_FORWARD_DEADLINE_MS, &rep, &reply) ==
	    KERN_SUCCESS)
		size = cg_mach_encode_reply_state(req, KERN_SUCCESS, rep.flavor, rep.state,
						  rep.state_count, buf->bytes, sizeof buf->bytes);
	exchange_done(reply);
	return size;
}

/* Passes a foreign task's request (a child that inherited the port across
 * fork/exec, xnu ipc_tt.c, kern_exec.c) on to the displaced handler with the
 * kernel's own reply right, so the handler answers the kernel directly and
 * nobody here waits for a child. Only when the displaced handler takes the
 * same message (EXCEPTION_DEFAULT with 64-bit codes); otherwise the caller
 * answers KERN_FAILURE (as chromium/crashpad client/crash_handler_ios.cc
 * does) and the child's kernel path goes on. Returns 1 when the request's
 * reply right is gone (sent on, or destroyed with the message: either way
 * the kernel hears from someone), 0 when the caller must answer. */
static int forward_foreign(mach_msg_header_t *msg, const cg_mach_request *req)
{
	mach_port_t port;
	exception_behavior_t behavior;
	thread_state_flavor_t flavor;
	if (req->reply_port == MACH_PORT_NULL || !previous_handler(&port, &behavior, &flavor) ||
	    cg_mach_forward_id((uint32_t)behavior) != CG_MACH_ID_RAISE)
		return 0;
	cg_mach_forward f;
	memset(&f, 0, sizeof f);
	f.dest_port = port;
	f.reply_port = req->reply_port;
	f.behavior = (uint32_t)behavior;
	f.thread_port = req->thread_port;
	f.task_port = req->task_port;
	f.exception = req->exception;
	f.code_count = req->code_count;
	f.code[0] = req->code[0];
	f.code[1] = req->code[1];
	size_t size = cg_mach_encode_forward(&f, g.fwd.bytes, sizeof g.fwd.bytes);
	if (size == 0)
		return 0;
	/* The kernel's send-once right moves on (the codec writes
	 * MAKE_SEND_ONCE for a reply port of our own). */
	g.fwd.head.msgh_bits = (g.fwd.head.msgh_bits & ~(mach_msg_bits_t)MACH_MSGH_BITS_LOCAL_MASK) |
			       ((mach_msg_bits_t)MACH_MSG_TYPE_MOVE_SEND_ONCE << 8);
	mach_msg_return_t mr = mach_msg(&g.fwd.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
					(mach_msg_size_t)size, 0, MACH_PORT_NULL,
					CG_MACH_FOREIGN_SEND_TIMEOUT_MS, MACH_PORT_NULL);
	if (mr == MACH_MSG_SUCCESS) {
		msg->msgh_remote_port = MACH_PORT_NULL;
		return 1;
	}
	if (mr == MACH_SEND_INVALID_DEST && g.fwd.head.msgh_local_port == req->reply_port)
		return 0; /* nothing moved: answer it ourselves */
	/* The right came back by pseudo-receive (consume it: the kernel gets
	 * MIG_SERVER_DIED and goes on), or went down with the message (e.g.
	 * MACH_SEND_INVALID_RIGHT for a child's immovable ports). */
	if (send_failed_recoverably(mr))
		consume_unsent(&g.fwd.head);
	msg->msgh_remote_port = MACH_PORT_NULL;
	return 1;
}

/* ---- Serving ---- */

/* Handles a decoded mach_exception_raise (2405) of our own task; returns
 * the RetCode. */
static kern_return_t handle_exception(const cg_mach_request *req)
{
	if (req->exception != EXC_BAD_ACCESS)
		return KERN_FAILURE; /* the only exception we registered for */

	/* Forward first, record only what nobody handled (PLCrashReporter's
	 * order): a displaced handler that handles the fault (a JIT, a host
	 * app's reporter) leaves no record that could pass for a crash. */
	mach_port_t port;
	exception_behavior_t behavior;
	thread_state_flavor_t flavor;
	if (previous_handler(&port, &behavior, &flavor) &&
	    forward_exception(req, port, behavior, flavor) == KERN_SUCCESS)
		return KERN_SUCCESS;
	/* Recorded right before the reply: the signal handler's merge window
	 * starts now, not before a slow forward. */
	record_exception(req);
	return KERN_FAILURE;
}

/* Sends the reply encoded in buf; returns 1 (the reply right was
 * consumed, sent or released). */
static int send_encoded(cg_msg_buffer *buf, size_t size)
{
	mach_msg_return_t mr = mach_msg(&buf->head, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
					(mach_msg_size_t)size, 0, MACH_PORT_NULL,
					CG_MACH_REPLY_TIMEOUT_MS, MACH_PORT_NULL);
	if (send_failed_recoverably(mr))
		consume_unsent(&buf->head);
	return 1;
}

/* Answers req with retcode from buf; returns 1 if the reply right was
 * consumed. */
static int send_reply(const cg_mach_request *req, kern_return_t retcode, cg_msg_buffer *buf)
{
	if (req->reply_port == MACH_PORT_NULL)
		return 0;
	size_t size = cg_mach_encode_reply(req, retcode, buf->bytes, sizeof buf->bytes);
	return size != 0 && send_encoded(buf, size);
}

/* Decodes msg, lets handle answer a well-formed request of our own task
 * (foreign: passed on), replies and releases the request's rights as
 * mach_msg_server does (libsyscall mach_msg.c): the reply right went into
 * the reply, everything else (the thread and task send rights, a voucher)
 * is released here. If no reply went out, destroying the reply right tells
 * the kernel (MIG_SERVER_DIED), which moves on to the next handler. */
static void serve_message(mach_msg_header_t *msg, cg_msg_buffer *reply,
			  kern_return_t (*handle)(const cg_mach_request *))
{
	cg_mach_request req;
	/* The kernel put msgh_size bytes of message before the trailer. */
	int status = cg_mach_decode_request(msg, msg->msgh_size, &req);
	if (status == CG_MACH_NO_HEADER) {
		mach_msg_destroy(msg);
		return;
	}
	kern_return_t retcode = KERN_FAILURE;
	if (status != CG_MACH_OK) {
		retcode = cg_mach_status_retcode(status); /* MIG_BAD_ID, MIG_BAD_ARGUMENTS */
	} else if (req.id == CG_MACH_ID_RAISE) {
		/* Own task: the control port names our task as mach_task_self()
		 * does (a send right received for a port we hold a send right to
		 * lands on the same name), no call on a foreign port needed. */
		if (req.task_port != mach_task_self()) {
			if (forward_foreign(msg, &req)) {
				mach_msg_destroy(msg);
				return;
			}
		} else {
			retcode = handle(&req);
		}
	} else if (req.id == CG_MACH_ID_RAISE_STATE && handle == handle_exception) {
		/* A hardened process's registration (register_port). */
		size_t size = forward_state(&req, reply);
		if (size != 0) {
			if (send_encoded(reply, size))
				msg->msgh_remote_port = MACH_PORT_NULL;
			mach_msg_destroy(msg);
			return;
		}
	} else if (req.id == CG_MACH_ID_RAISE_STATE) {
		retcode = handle(&req); /* the second level of a hardened process */
	}
	/* else 2407: not a behavior we register; KERN_FAILURE. */
	if (send_reply(&req, retcode, reply))
		msg->msgh_remote_port = MACH_PORT_NULL;
	mach_msg_destroy(msg);
}

/* Receives on port until it breaks; returns when the loop must end. */
static void receive_loop(mach_port_t port, cg_msg_buffer *rcv, cg_msg_buffer *reply,
			 kern_return_t (*handle)(const cg_mach_request *))
{
	int errors = 0;
	for (;;) {
		/* The idle wait: unbounded on purpose, nothing waits on us here.
		 * MACH_RCV_LARGE: a message too big for the buffer stays queued
		 * and we learn its size instead of silently losing it. */
		mach_msg_return_t mr = mach_msg(&rcv->head, MACH_RCV_MSG | MACH_RCV_LARGE, 0,
						(mach_msg_size_t)sizeof rcv->bytes, port,
						MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
		if (mr == MACH_MSG_SUCCESS) {
			errors = 0;
			serve_message(&rcv->head, reply, handle);
			continue;
		}
		if (mr == MACH_RCV_TOO_LARGE) {
			/* No exception message is this big. Receive it again without
			 * MACH_RCV_LARGE and without waiting: the kernel dequeues and
			 * destroys it, rights and all (osfmk/ipc/mach_msg.c
			 * mach_msg_receive_error), and its sender's reply right dies. */
			(void)mach_msg(&rcv->head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0,
				       (mach_msg_size_t)sizeof rcv->bytes, port, 0, MACH_PORT_NULL);
			continue;
		}
		if (mr == MACH_RCV_INTERRUPTED)
			continue;
		/* The port is gone (install failed after the thread started). */
		if (mr == MACH_RCV_PORT_DIED || mr == MACH_RCV_INVALID_NAME)
			return;
		/* Anything else (e.g. MACH_RCV_HEADER_ERROR|MACH_MSG_IPC_SPACE, a
		 * full name space: that message is lost, its sender moves on): back
		 * off and retry. Leaving would strand every later fault. */
		if (++errors >= CG_MACH_MAX_RECEIVE_ERRORS)
			return;
		int shift = errors < 8 ? errors - 1 : 7;
		uint32_t ms = 1u << shift;
		cg_mach_sleep_ms(ms < CG_MACH_BACKOFF_MAX_MS ? ms : CG_MACH_BACKOFF_MAX_MS);
	}
}

static void unblock_sync_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	sigaddset(&s, SIGBUS);
	sigaddset(&s, SIGILL);
	sigaddset(&s, SIGFPE);
	sigaddset(&s, SIGTRAP);
	(void)pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

static void *serving_thread(void *arg)
{
	/* Our ports come as the argument, not from globals: a thread left over
	 * from a failed install keeps to its own (dead) ports. */
	uintptr_t a = (uintptr_t)arg;
	mach_port_t port = (mach_port_t)(a & 0xffffffffu);
	mach_port_t port2 = (mach_port_t)((uint64_t)a >> 32);
	cg_mach_name_thread(CG_MACH_THREAD_NAME);

	/* Second level for this thread's own faults (see the file comment). */
	thread_act_t self = mach_thread_self();
	if (thread_set_exception_ports(self, EXC_MASK_BAD_ACCESS, port2,
				       (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES),
				       THREAD_STATE_NONE) == KERN_DENIED)
		/* A hardened process: see register_port. */
		(void)thread_set_exception_ports(
		    self, EXC_MASK_BAD_ACCESS, port2,
		    (exception_behavior_t)(EXCEPTION_STATE | MACH_EXCEPTION_CODES),
		    cg_mach_native_flavor());
	(void)mach_port_deallocate(mach_task_self(), self);
	/* Created with every signal blocked (no handler may run here for a
	 * signal meant for another thread); the synchronous ones must land. */
	unblock_sync_signals();

	receive_loop(port, &g.rcv, &g.reply, handle_exception);

	/* Never leave the port registered and unserved: the kernel would queue
	 * every later fault to it and each faulting thread would wait forever
	 * (ipc_mig.c mach_msg_rpc_from_kernel). Restore, then destroy. */
	unregister_port(port);
	destroy_port(port);
	cg_set_mach_layer(0); /* signals no longer follow a Mach record */
	atomic_store(&g.serving_ended, 1);
	return NULL;
}

/* Second level: a fault of the serving thread. */
static kern_return_t handle_own_fault(const cg_mach_request *req)
{
	/* The serving thread cannot serve the task port any more: hand it back
	 * to the displaced handlers so the next level is not us. */
	restore_task_handlers(mach_task_self());
	cg_set_mach_layer(0);
	if (req->thread_port != MACH_PORT_NULL) /* not in a hardened process (2406) */
		record_exception(req);
	return KERN_FAILURE;
}

static void *second_level_thread(void *arg)
{
	mach_port_t port2 = (mach_port_t)(uintptr_t)arg;
	cg_mach_name_thread(CG_MACH_THREAD2_NAME);
	receive_loop(port2, &g.rcv2, &g.reply2, handle_own_fault);
	/* Only the serving thread's thread-level registration points here;
	 * destroying the port makes a pending fault of it go on to the task
	 * level. */
	destroy_port(port2);
	return NULL;
}

/* ---- Install ---- */

/* Registers port for EXC_BAD_ACCESS at the task level, 64-bit codes (the
 * 32-bit messages truncate the fault address, KSCrash issue 810), no thread
 * state in the message (we fetch it ourselves). Swap, not set: one atomic
 * call that also hands back whoever had it, for forwarding. */
static kern_return_t register_port(mach_port_t port)
{
	exception_behavior_t behavior = (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES);
	thread_state_flavor_t flavor = THREAD_STATE_NONE;
	g.prev.count = EXC_TYPES_COUNT;
	kern_return_t kr = task_swap_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, port,
						     behavior, flavor, g.prev.masks, &g.prev.count,
						     g.prev.ports, g.prev.behaviors, g.prev.flavors);
	if (kr == KERN_DENIED) {
		/* A hardened process (platform binary, or the
		 * com.apple.developer.hardened-process entitlement) may only
		 * register identity-protected behaviors; the refusal comes after
		 * a guard exception (xnu-11417 osfmk/kern/ipc_tt.c
		 * set_exception_ports_validation, exception_is_identity_protected).
		 * EXCEPTION_STATE is allowed: forwarding keeps working, nothing is
		 * recorded (forward_state). */
		behavior = (exception_behavior_t)(EXCEPTION_STATE | MACH_EXCEPTION_CODES);
		flavor = cg_mach_native_flavor();
		g.prev.count = EXC_TYPES_COUNT;
		kr = task_swap_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, port, behavior,
					       flavor, g.prev.masks, &g.prev.count, g.prev.ports,
					       g.prev.behaviors, g.prev.flavors);
	}
	if (kr != KERN_SUCCESS)
		g.prev.count = 0;
	g.behavior = behavior;
	return kr;
}

static int mach_fail(int32_t *kr_out, const char **what, kern_return_t kr, const char *call)
{
	*kr_out = kr;
	*what = call;
	pthread_mutex_unlock(&g.lock);
	return CG_MACH_FAILED;
}

int cg_mach_install(int32_t *kr_out, const char **what)
{
	*kr_out = KERN_SUCCESS;
	*what = "";
	pthread_mutex_lock(&g.lock);
	if (g.installed) {
		pthread_mutex_unlock(&g.lock);
		return CG_MACH_INSTALLED;
	}
	if (cg_mach_being_traced()) {
		pthread_mutex_unlock(&g.lock);
		return CG_MACH_SKIPPED_TRACED;
	}
	/* The codec writes NDR_record from a constant; make sure it is this
	 * system's (it always has been: little-endian, ASCII, IEEE). */
	if (!cg_mach_ndr_ok())
		return mach_fail(kr_out, what, KERN_FAILURE, "NDR_record check");

	mach_port_t self = mach_task_self();
	mach_port_t port = MACH_PORT_NULL, port2 = MACH_PORT_NULL;
	kern_return_t kr = mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port);
	if (kr != KERN_SUCCESS)
		return mach_fail(kr_out, what, kr, "mach_port_allocate");
	/* The send right the kernel copies for each exception. */
	kr = mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND);
	if (kr != KERN_SUCCESS) {
		destroy_receive_right(port);
		return mach_fail(kr_out, what, kr, "mach_port_insert_right");
	}
	kr = mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port2);
	if (kr == KERN_SUCCESS) {
		kr = mach_port_insert_right(self, port2, port2, MACH_MSG_TYPE_MAKE_SEND);
		if (kr != KERN_SUCCESS)
			destroy_receive_right(port2);
	}
	if (kr != KERN_SUCCESS) {
		destroy_port(port);
		return mach_fail(kr_out, what, kr, "mach_port_allocate");
	}

	/* The threads first, so no exception ever waits on an unserved port. */
	int err = cg_mach_start_thread(second_level_thread, (void *)(uintptr_t)port2);
	if (err == 0)
		err = cg_mach_start_thread(serving_thread,
					   (void *)(uintptr_t)((uint64_t)port | (uint64_t)port2 << 32));
	if (err != 0) {
		destroy_port(port2); /* a started second level sees MACH_RCV_PORT_DIED */
		destroy_port(port);
		return mach_fail(kr_out, what, err, "pthread_create"); /* an errno value */
	}

	kr = register_port(port);
	if (kr != KERN_SUCCESS) {
		/* Both threads see MACH_RCV_PORT_DIED and end. */
		destroy_port(port);
		destroy_port(port2);
		return mach_fail(kr_out, what, kr, "task_swap_exception_ports");
	}
	atomic_store_explicit(&g.prev_ready, 1, memory_order_release);
	/* From now on every SIGSEGV/SIGBUS that is a CPU fault follows a Mach
	 * record of its thread (cg_fatal.c cg_darwin_cpu_fault); not so in a
	 * hardened process, where nothing is recorded. */
	cg_set_mach_layer(((unsigned)g.behavior & ~(unsigned)MACH_EXCEPTION_CODES) == EXCEPTION_DEFAULT);
	g.installed = 1;
	pthread_mutex_unlock(&g.lock);
	return CG_MACH_INSTALLED;
}

/* In a fork child (libc atfork child handler, cg_os_darwin.c): the child
 * inherited our port (exception ports survive fork and exec, xnu ipc_tt.c
 * ipc_task_init and kern_exec.c; Go's os/exec forks through libc,
 * syscall_darwin.go), but not our threads, so every fault of the child would
 * make a round trip to the parent. Take EXC_BAD_ACCESS off it, as zed,
 * alacritty and nix do: the child's faults go straight to its own signal
 * handlers. The handler we displaced cannot be put back: a fork child gets a
 * new IPC space holding only special and exception ports, so the names in
 * g.prev mean nothing there (and may name something else). Async-signal-safe:
 * one MIG call; mach_task_self and the MIG reply port are valid here because
 * libsystem re-initialises them in the child before user atfork handlers run
 * (libsyscall mach/mach_init.c _mach_fork_child). */
void cg_mach_after_fork_child(void)
{
	if (!atomic_load_explicit(&g.prev_ready, memory_order_acquire))
		return;
	clear_bad_access(mach_task_self());
}

int cg_mach_serving_ended(void) { return atomic_load(&g.serving_ended); }

int32_t cg_mach_set_crash_port_null(int on, const char **what)
{
	mach_port_t self = mach_task_self();
	kern_return_t kr = KERN_SUCCESS;
	*what = "";
	pthread_mutex_lock(&g.lock);
	if (on && !g.crash_null) {
		/* Never a port of ours for EXC_CRASH or EXC_CORPSE_NOTIFY: a
		 * receiver inside the crashing task is skipped (xnu exception.c
		 * check_exc_receiver_dependency) or hangs the process. NULL only,
		 * keeping whatever was there (launchd's ReportCrash port) to put
		 * back. */
		g.crash_saved.count = EXC_TYPES_COUNT;
		kr = task_swap_exception_ports(
		    self, EXC_MASK_CRASH, MACH_PORT_NULL,
		    (exception_behavior_t)(EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES), THREAD_STATE_NONE,
		    g.crash_saved.masks, &g.crash_saved.count, g.crash_saved.ports,
		    g.crash_saved.behaviors, g.crash_saved.flavors);
		if (kr == KERN_SUCCESS)
			g.crash_null = 1;
		else
			*what = "task_swap_exception_ports";
	} else if (!on && g.crash_null) {
		for (mach_msg_type_number_t i = 0; i < g.crash_saved.count && i < EXC_TYPES_COUNT; i++) {
			exception_mask_t mask = g.crash_saved.masks[i] & EXC_MASK_CRASH;
			if (mask == 0)
				continue;
			kern_return_t k = task_set_exception_ports(self, mask, g.crash_saved.ports[i],
								   g.crash_saved.behaviors[i],
								   g.crash_saved.flavors[i]);
			if (k != KERN_SUCCESS && kr == KERN_SUCCESS) {
				kr = k;
				*what = "task_set_exception_ports";
			}
		}
		/* The kernel copied the send rights it needed; drop ours. */
		for (mach_msg_type_number_t i = 0; i < g.crash_saved.count && i < EXC_TYPES_COUNT; i++)
			if (MACH_PORT_VALID(g.crash_saved.ports[i]))
				(void)mach_port_deallocate(self, g.crash_saved.ports[i]);
		g.crash_saved.count = 0;
		g.crash_null = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return kr;
}
