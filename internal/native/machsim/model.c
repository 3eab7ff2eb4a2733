//go:build cgo

/*
 * model.c: a small model of xnu's Mach IPC and exception delivery, for
 * running the real exception server (cg_mach_server_darwin.c) on Linux.
 *
 * What it models, and from where (xnu-11417, macOS 15.4):
 *  - Ports with a message queue; one IPC space (this process) whose names
 *    hold receive, send (urefs, one name per port: a send right received
 *    for a port already named lands on that name), send-once (a name each)
 *    and dead-name rights. Destroying a receive right destroys the queued
 *    messages and their rights; send rights turn into dead names; a
 *    destroyed send-once right sends MACH_NOTIFY_SEND_ONCE to its port
 *    (osfmk/ipc/ipc_port.c, ipc_right.c, ipc_notify.c).
 *  - mach_msg: copyin of the header and port descriptors by disposition
 *    (MACH_SEND_INVALID_DEST before anything moves; a body error destroys
 *    the message and its header rights), receive with MACH_RCV_LARGE /
 *    MACH_RCV_TOO_LARGE, timeouts, the trailer (osfmk/ipc/mach_msg.c,
 *    ipc_kmsg.c). Immovable ports (another task's read ports) cannot be
 *    sent on (MACH_SEND_INVALID_RIGHT).
 *  - exception_triage: thread port, then task port, then the host's
 *    ux_handler, which posts SIGSEGV/SIGBUS to the same thread; KERN_SUCCESS
 *    resumes; the wait for a reply has no timeout (osfmk/kern/exception.c,
 *    ipc_mig.c mach_msg_rpc_from_kernel). Replies are checked as the MIG
 *    client stub checks them (id = request + 100, not complex, size); a
 *    rejected reply or a dead reply right means the next level. New state is
 *    applied for EXCEPTION_STATE only (STATE_IDENTITY: not outside Developer
 *    Mode, exception.c).
 *  - A blocked synchronous signal is only marked pending and the
 *    instruction re-faults (bsd/kern/kern_sig.c threadsignal).
 *  - Rules: registering EXC_CRASH or EXC_CORPSE_NOTIFY in-process is a
 *    violation; a hardened task gets KERN_DENIED for EXCEPTION_DEFAULT
 *    (ipc_tt.c set_exception_ports_validation).
 *
 * It is test code: it locks, allocates nothing after reset (fixed tables),
 * and waits on condition variables.
 */
#define _GNU_SOURCE
#define MACHSIM_MODEL 1
#include "machsim_kernel.h"

#include "cg_mach_kernel.h"
#include "cg_machmsg.h"
#include "machsim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NPORTS 1024
#define NNAMES 1024
#define NTHREADS 128
#define NTASKS 4
#define NMSGS 512
#define NFAULTS 256
#define MSGCAP (92 + 4 * 1296 + 8)
#define NOTIFY_SIZE 32
#define NAME_BASE 0x103u
#define SEND_INVALID_REPLY 0x10000009
/* <mach/mig_errors.h>; EXCEPTION_IDENTITY_PROTECTED is newer than some
 * SDKs (<mach/exception_types.h>, macOS 13). */
#define SIM_MIG_TYPE_ERROR (-300)
#define SIM_MIG_REPLY_MISMATCH (-301)
#define SIM_MIG_SERVER_DIED (-308)
#define SIM_EXCEPTION_IDENTITY_PROTECTED 4

enum { K_PLAIN = 0, K_TASK, K_THREAD, K_KREPLY };
enum { RX_SPACE = 0, RX_KERNEL = 1 }; /* who holds the receive right */
enum { ROLE_NONE = 0, ROLE_SERVING, ROLE_SECOND };

typedef struct {
	int used, kind, obj, dead, rx, immovable;
	int qhead, qtail, qlen;
	int prev_handler; /* served by the model's displaced handler */
	int from_server;  /* receive right in our space: replies come from the server */
} sport;

typedef struct {
	int used, port, recv, send, sonce, dead;
} sname;

typedef struct {
	int used, next, from_space;
	uint32_t size;
	int dest;
	int reply, reply_type; /* carried reply right: port + 17/18, or 0 */
	int ndesc, desc[2], desc_type[2];
	unsigned char bytes[MSGCAP];
} smsg;

typedef struct {
	int port;
	exception_behavior_t behavior;
	thread_state_flavor_t flavor;
} sexc;

typedef struct {
	int used, task, port, role, real;
	uint64_t tid;
	natural_t state[CGSIM_NATIVE_COUNT];
	sexc exc[EXC_TYPES_COUNT];
	int sig_action;
	uint32_t sig_flags;
} sthread;

typedef struct {
	int used, port, hardened, immovable;
	sexc exc[EXC_TYPES_COUNT];
} stask;

typedef struct {
	int used, thread;
	int32_t exc;
	int64_t code, subcode;
	machsim_outcome out;
	int done;
} sfault;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sport ports[NPORTS];
	sname names[NNAMES];
	smsg msgs[NMSGS];
	sthread threads[NTHREADS];
	stask tasks[NTASKS];
	sfault faults[NFAULTS];
	int (*record)(uint64_t, int32_t, int64_t, int64_t, const uint64_t *, uint32_t, uint64_t,
		      uint64_t, uint64_t, uint64_t);
	int (*merge)(uint64_t, int64_t, int, int, uint64_t, uint32_t);
	int records, server_replies, died;
	int inject_fault, inject_action;
	uint32_t inject_flags;
	int rcv_errors;
	int32_t rcv_error_code;
	int serving_ended, mach_layer, serving_idle;
	int prev_count;
	int32_t prev_id, prev_flavor;
	uint32_t prev_state_count;
	int64_t prev_code1;
	int nviol;
	char viol[16][160];
} m = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static __thread int t_thread = -1; /* the sim thread running on this pthread */
static __thread int t_task = 0;    /* mach_task_self()'s task */

static void violation(const char *what, long long a)
{
	if (m.nviol < 16)
		snprintf(m.viol[m.nviol], sizeof m.viol[0], "%s (%lld)", what, a);
	m.nviol++;
}

/* ---- Waiting ---- */

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits on the model's condition; 0 on timeout. ms < 0: no timeout. */
static int wait_until(const struct timespec *dl, long ms)
{
	if (ms < 0) {
		pthread_cond_wait(&m.cv, &m.mu);
		return 1;
	}
	return pthread_cond_timedwait(&m.cv, &m.mu, dl) != ETIMEDOUT;
}

/* A dead process: its threads never run again. */
static void park_forever(void)
{
	for (;;)
		pthread_cond_wait(&m.cv, &m.mu);
}

/* ---- Ports, names, messages ---- */

static int port_new(int kind, int obj, int rx)
{
	for (int i = 1; i < NPORTS; i++) {
		if (!m.ports[i].used) {
			memset(&m.ports[i], 0, sizeof m.ports[i]);
			m.ports[i].used = 1;
			m.ports[i].kind = kind;
			m.ports[i].obj = obj;
			m.ports[i].rx = rx;
			m.ports[i].qhead = m.ports[i].qtail = -1;
			return i;
		}
	}
	violation("model out of ports", 0);
	return 0;
}

static sname *name_at(mach_port_name_t n)
{
	if (n < NAME_BASE || n >= NAME_BASE + NNAMES)
		return NULL;
	sname *e = &m.names[n - NAME_BASE];
	return e->used ? e : NULL;
}

static mach_port_name_t name_new(int port)
{
	for (int i = 0; i < NNAMES; i++) {
		if (!m.names[i].used) {
			memset(&m.names[i], 0, sizeof m.names[i]);
			m.names[i].used = 1;
			m.names[i].port = port;
			return NAME_BASE + (mach_port_name_t)i;
		}
	}
	violation("model out of names", 0);
	return MACH_PORT_NULL;
}

static void name_gc(mach_port_name_t n)
{
	sname *e = name_at(n);
	if (e != NULL && e->recv == 0 && e->send == 0 && e->sonce == 0 && e->dead == 0)
		e->used = 0;
}

/* The name holding receive or send rights for port (one per port). */
static mach_port_name_t name_of_port(int port)
{
	for (int i = 0; i < NNAMES; i++)
		if (m.names[i].used && m.names[i].port == port && m.names[i].sonce == 0 &&
		    (m.names[i].recv || m.names[i].send || m.names[i].dead))
			return NAME_BASE + (mach_port_name_t)i;
	return MACH_PORT_NULL;
}

/* Copies a right out into our space; returns its name. type 17 or 18. */
static mach_port_name_t copyout_right(int port, int type)
{
	if (port == 0)
		return MACH_PORT_NULL;
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
		mach_port_name_t n = name_new(port);
		if (n != MACH_PORT_NULL)
			name_at(n)->sonce = 1;
		return n;
	}
	mach_port_name_t n = name_of_port(port);
	if (n == MACH_PORT_NULL)
		n = name_new(port);
	if (n != MACH_PORT_NULL) {
		if (m.ports[port].dead)
			name_at(n)->dead++;
		else
			name_at(n)->send++;
	}
	return n;
}

static void enqueue(int port, int msg);

/* A send-once right to port is destroyed unused: its port hears of it. */
static void sonce_destroyed(int port)
{
	sport *p = &m.ports[port];
	if (!p->used || p->dead)
		return;
	for (int i = 0; i < NMSGS; i++) {
		if (!m.msgs[i].used) {
			smsg *x = &m.msgs[i];
			memset(x, 0, offsetof(smsg, bytes));
			x->used = 1;
			x->size = NOTIFY_SIZE;
			x->dest = port;
			memset(x->bytes, 0, NOTIFY_SIZE);
			uint32_t bits = MACH_MSG_TYPE_MOVE_SEND_ONCE << 8, size = NOTIFY_SIZE;
			int32_t id = MACH_NOTIFY_SEND_ONCE;
			memcpy(x->bytes, &bits, 4);
			memcpy(x->bytes + 4, &size, 4);
			memcpy(x->bytes + 20, &id, 4);
			enqueue(port, i);
			return;
		}
	}
	violation("model out of messages", 0);
}

/* Releases a right that was in flight (in a message being destroyed). */
static void release_carried(int port, int type)
{
	if (port == 0)
		return;
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE)
		sonce_destroyed(port);
}

static void msg_destroy(int i)
{
	smsg *x = &m.msgs[i];
	release_carried(x->reply, x->reply_type);
	for (int d = 0; d < x->ndesc; d++)
		release_carried(x->desc[d], x->desc_type[d]);
	x->used = 0;
}

static void enqueue(int port, int i)
{
	sport *p = &m.ports[port];
	m.msgs[i].next = -1;
	if (p->qtail >= 0)
		m.msgs[p->qtail].next = i;
	else
		p->qhead = i;
	p->qtail = i;
	p->qlen++;
	pthread_cond_broadcast(&m.cv);
}

static int dequeue(int port)
{
	sport *p = &m.ports[port];
	int i = p->qhead;
	if (i < 0)
		return -1;
	p->qhead = m.msgs[i].next;
	if (p->qhead < 0)
		p->qtail = -1;
	p->qlen--;
	return i;
}

/* The receive right of port dies: queued messages and their rights go,
 * send rights in our space become dead names (ipc_port_destroy). */
static void port_destroy(int port)
{
	sport *p = &m.ports[port];
	if (!p->used || p->dead)
		return;
	p->dead = 1;
	int i;
	while ((i = dequeue(port)) >= 0)
		msg_destroy(i);
	for (int n = 0; n < NNAMES; n++) {
		sname *e = &m.names[n];
		if (!e->used || e->port != port)
			continue;
		e->recv = 0;
		e->dead += e->send + e->sonce;
		e->send = e->sonce = 0;
		name_gc(NAME_BASE + (mach_port_name_t)n);
	}
	pthread_cond_broadcast(&m.cv);
}

static int msg_alloc(void)
{
	for (int i = 0; i < NMSGS; i++) {
		if (!m.msgs[i].used) {
			memset(&m.msgs[i], 0, offsetof(smsg, bytes));
			m.msgs[i].used = 1;
			return i;
		}
	}
	violation("model out of messages", 0);
	return -1;
}

/* ---- mach_msg ---- */

typedef struct {
	mach_port_name_t name;
	int disp, port, type; /* type: 17/18 as carried, 0 none */
} right_in;

/* Checks a right named in a message to be sent; fills r. */
static kern_return_t check_right(right_in *r, int descriptor)
{
	r->port = 0;
	r->type = 0;
	if (r->disp == 0 || r->name == MACH_PORT_NULL)
		return KERN_SUCCESS;
	sname *e = name_at(r->name);
	if (e == NULL)
		return KERN_INVALID_NAME;
	r->port = e->port;
	sport *p = &m.ports[e->port];
	if (descriptor && p->immovable &&
	    (r->disp == MACH_MSG_TYPE_COPY_SEND || r->disp == MACH_MSG_TYPE_MOVE_SEND))
		return KERN_INVALID_RIGHT;
	switch (r->disp) {
	case MACH_MSG_TYPE_COPY_SEND:
	case MACH_MSG_TYPE_MOVE_SEND:
		r->type = MACH_MSG_TYPE_MOVE_SEND;
		return e->send > 0 && !p->dead ? KERN_SUCCESS : KERN_INVALID_RIGHT;
	case MACH_MSG_TYPE_MAKE_SEND:
		r->type = MACH_MSG_TYPE_MOVE_SEND;
		return e->recv ? KERN_SUCCESS : KERN_INVALID_RIGHT;
	case MACH_MSG_TYPE_MAKE_SEND_ONCE:
		r->type = MACH_MSG_TYPE_MOVE_SEND_ONCE;
		return e->recv ? KERN_SUCCESS : KERN_INVALID_RIGHT;
	case MACH_MSG_TYPE_MOVE_SEND_ONCE:
		r->type = MACH_MSG_TYPE_MOVE_SEND_ONCE;
		return e->sonce && !p->dead ? KERN_SUCCESS : KERN_INVALID_RIGHT;
	default:
		return KERN_INVALID_VALUE;
	}
}

/* Takes the right out of our space (MOVE) or leaves it (COPY/MAKE). */
static void consume_right(const right_in *r)
{
	if (r->port == 0)
		return;
	sname *e = name_at(r->name);
	if (r->disp == MACH_MSG_TYPE_MOVE_SEND)
		e->send--;
	else if (r->disp == MACH_MSG_TYPE_MOVE_SEND_ONCE)
		e->sonce = 0;
	name_gc(r->name);
}

static mach_msg_return_t do_send(mach_msg_header_t *h, mach_msg_size_t size)
{
	unsigned char *b = (unsigned char *)h;
	if (size < sizeof *h || size > MSGCAP - 8 || h->msgh_size != size) {
		violation("mach_msg send: bad size", size);
		return MACH_SEND_INVALID_DEST;
	}
	right_in dest = {h->msgh_remote_port, (int)MACH_MSGH_BITS_REMOTE(h->msgh_bits), 0, 0};
	right_in reply = {h->msgh_local_port, (int)MACH_MSGH_BITS_LOCAL(h->msgh_bits), 0, 0};
	if (check_right(&dest, 0) != KERN_SUCCESS || dest.port == 0)
		return MACH_SEND_INVALID_DEST;
	if (check_right(&reply, 0) != KERN_SUCCESS)
		return SEND_INVALID_REPLY;
	right_in desc[2];
	int ndesc = 0;
	kern_return_t body = KERN_SUCCESS;
	if (h->msgh_bits & MACH_MSGH_BITS_COMPLEX) {
		uint32_t count;
		memcpy(&count, b + 24, 4);
		if (count > 2 || size < 28 + 12 * count) {
			violation("mach_msg send: bad descriptors", count);
			return MACH_SEND_INVALID_DEST;
		}
		for (uint32_t d = 0; d < count; d++) {
			memcpy(&desc[d].name, b + 28 + 12 * d, 4);
			desc[d].disp = b[28 + 12 * d + 10];
			if (b[28 + 12 * d + 11] != MACH_MSG_PORT_DESCRIPTOR)
				body = KERN_INVALID_VALUE;
			else if (check_right(&desc[d], 1) != KERN_SUCCESS)
				body = KERN_INVALID_RIGHT;
		}
		ndesc = (int)count;
	}
	if (body != KERN_SUCCESS) {
		/* The header's rights went in and the body failed: the message is
		 * destroyed with them (ipc_kmsg_clean_partial). */
		if (reply.disp == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
			consume_right(&reply);
			sonce_destroyed(reply.port);
		}
		if (dest.disp == MACH_MSG_TYPE_MOVE_SEND || dest.disp == MACH_MSG_TYPE_MOVE_SEND_ONCE)
			consume_right(&dest);
		return MACH_SEND_INVALID_RIGHT;
	}
	sport *dp = &m.ports[dest.port];
	if (dp->dead)
		return MACH_SEND_INVALID_DEST;
	int i = msg_alloc();
	if (i < 0)
		return MACH_SEND_INVALID_DEST;
	smsg *x = &m.msgs[i];
	memcpy(x->bytes, b, size);
	x->size = size;
	x->dest = dest.port;
	x->from_space = 1;
	consume_right(&dest);
	consume_right(&reply);
	x->reply = reply.port;
	x->reply_type = reply.type;
	for (int d = 0; d < ndesc; d++) {
		consume_right(&desc[d]);
		x->desc[d] = desc[d].port;
		x->desc_type[d] = desc[d].type;
	}
	x->ndesc = ndesc;
	/* A reply the kernel waits for, sent from the server's space. */
	if (dp->kind == K_KREPLY)
		m.server_replies++;
	enqueue(dest.port, i);
	return MACH_MSG_SUCCESS;
}

static mach_msg_return_t do_receive(mach_msg_header_t *h, mach_msg_option_t opt,
				    mach_msg_size_t cap, mach_port_name_t name,
				    mach_msg_timeout_t timeout)
{
	sthread *self = t_thread >= 0 ? &m.threads[t_thread] : NULL;
	if (self != NULL && self->role == ROLE_SERVING && m.rcv_errors > 0) {
		m.rcv_errors--;
		return m.rcv_error_code;
	}
	sname *e = name_at(name);
	if (e == NULL || !e->recv)
		return MACH_RCV_INVALID_NAME;
	int port = e->port;
	struct timespec dl = {0, 0};
	long ms = (opt & MACH_RCV_TIMEOUT) ? (long)timeout : -1;
	if (ms >= 0)
		deadline_in(&dl, ms);
	int serving = self != NULL && self->role == ROLE_SERVING && ms < 0;
	while (m.ports[port].qlen == 0) {
		if (m.ports[port].dead)
			return MACH_RCV_PORT_DIED;
		if (serving && !m.serving_idle) {
			m.serving_idle = 1;
			pthread_cond_broadcast(&m.cv);
		}
		if (!wait_until(&dl, ms))
			return MACH_RCV_TIMED_OUT;
	}
	if (serving)
		m.serving_idle = 0;
	if (m.ports[port].dead)
		return MACH_RCV_PORT_DIED;
	smsg *x = &m.msgs[m.ports[port].qhead];
	if (x->size + 8 > cap) {
		if (opt & MACH_RCV_LARGE) {
			h->msgh_size = x->size + 8;
			return MACH_RCV_TOO_LARGE;
		}
		msg_destroy(dequeue(port));
		return MACH_RCV_TOO_LARGE;
	}
	int i = dequeue(port);
	x = &m.msgs[i];
	unsigned char *b = (unsigned char *)h;
	memcpy(b, x->bytes, x->size);
	mach_msg_header_t *rh = (mach_msg_header_t *)b;
	mach_port_name_t rname = copyout_right(x->reply, x->reply_type);
	uint32_t complex = rh->msgh_bits & MACH_MSGH_BITS_COMPLEX;
	/* Received: remote = the reply right, local = our receive name. */
	rh->msgh_bits = complex | (uint32_t)x->reply_type |
			((uint32_t)MACH_MSG_TYPE_MOVE_SEND << 8);
	rh->msgh_remote_port = rname;
	rh->msgh_local_port = name;
	rh->msgh_voucher_port = MACH_PORT_NULL;
	for (int d = 0; d < x->ndesc; d++) {
		mach_port_name_t dn = copyout_right(x->desc[d], x->desc_type[d]);
		memcpy(b + 28 + 12 * d, &dn, 4);
		b[28 + 12 * d + 10] = (unsigned char)x->desc_type[d];
	}
	/* mach_msg_trailer_t {type 0, size 8} at round_msg(size). */
	uint32_t at = (x->size + 3) & ~3u, trailer[2] = {0, 8};
	memcpy(b + at, trailer, 8);
	x->used = 0;
	return MACH_MSG_SUCCESS;
}

mach_msg_return_t simk_mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
				mach_msg_size_t send_size, mach_msg_size_t rcv_size,
				mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
				mach_port_name_t notify)
{
	(void)notify;
	pthread_mutex_lock(&m.mu);
	mach_msg_return_t mr = MACH_MSG_SUCCESS;
	if (option & MACH_SEND_MSG)
		mr = do_send(msg, send_size);
	if (mr == MACH_MSG_SUCCESS && (option & MACH_RCV_MSG))
		mr = do_receive(msg, option, rcv_size, rcv_name, timeout);
	pthread_mutex_unlock(&m.mu);
	return mr;
}

/* libsyscall mach_msg_destroy: the remote right, then the descriptors; the
 * local port holds no right in a received message. */
static void destroy_named(mach_port_name_t n, int type)
{
	sname *e = name_at(n);
	if (e == NULL) {
		/* libsyscall ignores the error, but the name may have been
		 * reused by then: a right released twice. */
		if (MACH_PORT_VALID(n) && type >= MACH_MSG_TYPE_MOVE_RECEIVE &&
		    type <= MACH_MSG_TYPE_MOVE_SEND_ONCE)
			violation("mach_msg_destroy of a right not held (released twice?)", (long long)n);
		return;
	}
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
		if (e->sonce) {
			e->sonce = 0;
			sonce_destroyed(e->port);
		} else if (e->dead) {
			e->dead--;
		}
	} else if (type == MACH_MSG_TYPE_MOVE_SEND) {
		if (e->send)
			e->send--;
		else if (e->dead)
			e->dead--;
	} else if (type == MACH_MSG_TYPE_MOVE_RECEIVE && e->recv) {
		e->recv = 0;
		port_destroy(e->port);
	}
	name_gc(n);
}

void simk_mach_msg_destroy(mach_msg_header_t *h)
{
	pthread_mutex_lock(&m.mu);
	destroy_named(h->msgh_remote_port, (int)MACH_MSGH_BITS_REMOTE(h->msgh_bits));
	if (h->msgh_bits & MACH_MSGH_BITS_COMPLEX) {
		unsigned char *b = (unsigned char *)h;
		uint32_t count;
		memcpy(&count, b + 24, 4);
		for (uint32_t d = 0; d < count && d < 2; d++) {
			mach_port_name_t n;
			memcpy(&n, b + 28 + 12 * d, 4);
			destroy_named(n, b[28 + 12 * d + 10]);
		}
	}
	pthread_mutex_unlock(&m.mu);
}

/* ---- Tasks, threads, ports ---- */

static mach_port_name_t task_name(int task)
{
	mach_port_name_t n = name_of_port(m.tasks[task].port);
	if (n == MACH_PORT_NULL) {
		n = name_new(m.tasks[task].port);
		if (n != MACH_PORT_NULL)
			name_at(n)->send = 1;
	}
	return n;
}

mach_port_t simk_task_self(void)
{
	pthread_mutex_lock(&m.mu);
	mach_port_name_t n = task_name(t_task);
	pthread_mutex_unlock(&m.mu);
	return n;
}

mach_port_t simk_thread_self(void)
{
	pthread_mutex_lock(&m.mu);
	mach_port_name_t n = MACH_PORT_NULL;
	if (t_thread >= 0)
		n = copyout_right(m.threads[t_thread].port, MACH_MSG_TYPE_MOVE_SEND);
	pthread_mutex_unlock(&m.mu);
	return n;
}

kern_return_t simk_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t *name)
{
	(void)task;
	if (right != MACH_PORT_RIGHT_RECEIVE)
		return KERN_INVALID_VALUE;
	pthread_mutex_lock(&m.mu);
	int p = port_new(K_PLAIN, 0, RX_SPACE);
	m.ports[p].from_server = 1;
	*name = name_new(p);
	if (*name != MACH_PORT_NULL)
		name_at(*name)->recv = 1;
	pthread_mutex_unlock(&m.mu);
	return *name != MACH_PORT_NULL ? KERN_SUCCESS : KERN_FAILURE;
}

kern_return_t simk_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
				     mach_msg_type_name_t poly_poly)
{
	(void)task;
	pthread_mutex_lock(&m.mu);
	sname *e = name_at(name);
	kern_return_t kr = KERN_SUCCESS;
	if (e == NULL || poly != name || poly_poly != MACH_MSG_TYPE_MAKE_SEND || !e->recv)
		kr = KERN_INVALID_RIGHT;
	else
		e->send++;
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
				 mach_port_delta_t delta)
{
	(void)task;
	pthread_mutex_lock(&m.mu);
	kern_return_t kr = KERN_SUCCESS;
	sname *e = name_at(name);
	if (e == NULL) {
		kr = KERN_INVALID_NAME;
	} else if (right == MACH_PORT_RIGHT_RECEIVE) {
		if (!e->recv || delta != -1) {
			kr = KERN_INVALID_RIGHT;
		} else {
			e->recv = 0;
			port_destroy(e->port);
		}
	} else if (right == MACH_PORT_RIGHT_SEND) {
		if (e->send + delta < 0)
			kr = KERN_INVALID_VALUE;
		else
			e->send += delta;
	} else if (right == MACH_PORT_RIGHT_DEAD_NAME) {
		if (e->dead + delta < 0)
			kr = KERN_INVALID_VALUE;
		else
			e->dead += delta;
	} else {
		kr = KERN_INVALID_VALUE;
	}
	if (kr != KERN_SUCCESS)
		violation("mach_port_mod_refs on a right not held", (long long)kr);
	name_gc(name);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_port_deallocate(ipc_space_t task, mach_port_name_t name)
{
	(void)task;
	pthread_mutex_lock(&m.mu);
	kern_return_t kr = KERN_SUCCESS;
	sname *e = name_at(name);
	if (e == NULL) {
		kr = KERN_INVALID_NAME;
	} else if (e->sonce) {
		e->sonce = 0;
		sonce_destroyed(e->port);
	} else if (e->send) {
		e->send--;
	} else if (e->dead) {
		e->dead--;
	} else {
		kr = KERN_INVALID_RIGHT;
	}
	if (kr != KERN_SUCCESS)
		violation("mach_port_deallocate of a right not held", (long long)kr);
	else
		name_gc(name);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

/* The port a send right names, for registering it with the kernel. */
static int port_for_registration(mach_port_name_t n, int *port)
{
	*port = 0;
	if (n == MACH_PORT_NULL)
		return 1;
	sname *e = name_at(n);
	if (e == NULL || (e->send == 0 && e->dead == 0))
		return 0;
	*port = e->port;
	return 1;
}

static int task_of_name(mach_port_name_t n)
{
	sname *e = name_at(n);
	if (e == NULL || m.ports[e->port].kind != K_TASK)
		return -1;
	return m.ports[e->port].obj;
}

static int thread_of_name(mach_port_name_t n)
{
	sname *e = name_at(n);
	if (e == NULL || m.ports[e->port].kind != K_THREAD)
		return -1;
	return m.ports[e->port].obj;
}

static kern_return_t check_registration(int task, exception_mask_t mask, int port,
					exception_behavior_t behavior)
{
	/* crashguard's rule (DESIGN.md): the kernel skips such a receiver in
	 * the crashing task (exception.c check_exc_receiver_dependency). */
	if ((mask & (EXC_MASK_CRASH | EXC_MASK_CORPSE_NOTIFY)) && port != 0)
		violation("EXC_CRASH/EXC_CORPSE_NOTIFY registered to a port in-process", (long long)mask);
	/* Hardened tasks may only use identity-protected behaviors
	 * (ipc_tt.c exception_is_identity_protected). */
	int base = (int)((unsigned)behavior & ~(unsigned)MACH_EXCEPTION_CODES);
	if (task >= 0 && m.tasks[task].hardened && port != 0 && base != EXCEPTION_STATE &&
	    base != SIM_EXCEPTION_IDENTITY_PROTECTED)
		return KERN_DENIED;
	return KERN_SUCCESS;
}

static void set_exc(sexc *table, exception_mask_t mask, int port, exception_behavior_t behavior,
		    thread_state_flavor_t flavor)
{
	for (int e = 1; e < EXC_TYPES_COUNT; e++) {
		if (!(mask & (1u << e)))
			continue;
		table[e].port = port;
		table[e].behavior = behavior;
		table[e].flavor = flavor;
	}
}

/* Old handlers as the kernel returns them: one entry per distinct handler,
 * each with a new send right for the caller. */
static void get_exc(const sexc *table, exception_mask_t mask, exception_mask_array_t masks,
		    mach_msg_type_number_t *count, exception_handler_array_t ports,
		    exception_behavior_array_t behaviors, exception_flavor_array_t flavors)
{
	mach_msg_type_number_t cap = *count, n = 0;
	for (int e = 1; e < EXC_TYPES_COUNT; e++) {
		if (!(mask & (1u << e)))
			continue;
		mach_msg_type_number_t j;
		for (j = 0; j < n; j++) {
			if (ports[j] != MACH_PORT_NULL && name_at(ports[j]) != NULL &&
			    name_at(ports[j])->port == table[e].port && behaviors[j] == table[e].behavior &&
			    flavors[j] == table[e].flavor)
				break;
			if (ports[j] == MACH_PORT_NULL && table[e].port == 0 &&
			    behaviors[j] == table[e].behavior && flavors[j] == table[e].flavor)
				break;
		}
		if (j < n) {
			masks[j] |= 1u << e;
			continue;
		}
		if (n >= cap)
			break;
		masks[n] = 1u << e;
		ports[n] = copyout_right(table[e].port, MACH_MSG_TYPE_MOVE_SEND);
		behaviors[n] = table[e].behavior;
		flavors[n] = table[e].flavor;
		n++;
	}
	*count = n;
}

kern_return_t simk_task_swap_exception_ports(task_t task, exception_mask_t mask, mach_port_t port,
					     exception_behavior_t behavior,
					     thread_state_flavor_t flavor, exception_mask_array_t masks,
					     mach_msg_type_number_t *count,
					     exception_handler_array_t ports,
					     exception_behavior_array_t behaviors,
					     exception_flavor_array_t flavors)
{
	pthread_mutex_lock(&m.mu);
	int t = task_of_name(task), p;
	kern_return_t kr = KERN_SUCCESS;
	if (t < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(t, mask, p, behavior);
	if (kr == KERN_SUCCESS) {
		get_exc(m.tasks[t].exc, mask, masks, count, ports, behaviors, flavors);
		set_exc(m.tasks[t].exc, mask, p, behavior, flavor);
	}
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_task_get_exception_ports(task_t task, exception_mask_t mask,
					    exception_mask_array_t masks,
					    mach_msg_type_number_t *count,
					    exception_handler_array_t ports,
					    exception_behavior_array_t behaviors,
					    exception_flavor_array_t flavors)
{
	pthread_mutex_lock(&m.mu);
	int t = task_of_name(task);
	kern_return_t kr = t < 0 ? KERN_INVALID_ARGUMENT : KERN_SUCCESS;
	if (kr == KERN_SUCCESS)
		get_exc(m.tasks[t].exc, mask, masks, count, ports, behaviors, flavors);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_task_set_exception_ports(task_t task, exception_mask_t mask, mach_port_t port,
					    exception_behavior_t behavior,
					    thread_state_flavor_t flavor)
{
	pthread_mutex_lock(&m.mu);
	int t = task_of_name(task), p;
	kern_return_t kr = KERN_SUCCESS;
	if (t < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(t, mask, p, behavior);
	if (kr == KERN_SUCCESS)
		set_exc(m.tasks[t].exc, mask, p, behavior, flavor);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_thread_set_exception_ports(thread_act_t thread, exception_mask_t mask,
					      mach_port_t port, exception_behavior_t behavior,
					      thread_state_flavor_t flavor)
{
	pthread_mutex_lock(&m.mu);
	int th = thread_of_name(thread), p;
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(m.threads[th].task, mask, p, behavior);
	if (kr == KERN_SUCCESS)
		set_exc(m.threads[th].exc, mask, p, behavior, flavor);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

kern_return_t simk_thread_get_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t *count)
{
	pthread_mutex_lock(&m.mu);
	int th = thread_of_name(thread);
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0)
		kr = KERN_INVALID_ARGUMENT;
	else if (flavor != CGSIM_NATIVE_FLAVOR || *count < CGSIM_NATIVE_COUNT)
		kr = KERN_INVALID_ARGUMENT;
	else {
		memcpy(state, m.threads[th].state, sizeof m.threads[th].state);
		*count = CGSIM_NATIVE_COUNT;
	}
	pthread_mutex_unlock(&m.mu);
	return kr;
}

static void set_state(int th, const natural_t *state, mach_msg_type_number_t count)
{
	memcpy(m.threads[th].state, state, 4 * (size_t)count);
}

kern_return_t simk_thread_set_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t count)
{
	pthread_mutex_lock(&m.mu);
	int th = thread_of_name(thread);
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0 || flavor != CGSIM_NATIVE_FLAVOR || count != CGSIM_NATIVE_COUNT)
		kr = KERN_INVALID_ARGUMENT;
	else
		set_state(th, state, count);
	pthread_mutex_unlock(&m.mu);
	return kr;
}

/* pc's word index in the native state (arm64: x0-x28, fp, lr, sp, pc;
 * x86_64: rax..r15, rip). */
#if CGSIM_NATIVE_FLAVOR == 6
#define PC_WORD 64
#define SP_WORD 62
#define FP_WORD 58
#else
#define PC_WORD 32
#define SP_WORD 14
#define FP_WORD 12
#endif

static uint64_t state_word(const natural_t *s, int w)
{
	uint64_t v;
	memcpy(&v, s + w, 8);
	return v;
}

/* ---- Exception delivery (exception_triage) ---- */

static void wr32(unsigned char *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void wr64(unsigned char *b, size_t off, int64_t v) { memcpy(b + off, &v, 8); }

/* Builds what MIG's client stub sends for behavior (mach_exc.defs /
 * exc.defs); written here independently of the server's codec. */
static int build_request(int th, const sexc *h, int32_t exc, int64_t code, int64_t subcode,
			 int kreply, int32_t *id_out)
{
	unsigned base = (unsigned)h->behavior & ~(unsigned)MACH_EXCEPTION_CODES;
	int codes64 = ((unsigned)h->behavior & (unsigned)MACH_EXCEPTION_CODES) != 0;
	if (base < EXCEPTION_DEFAULT || base > EXCEPTION_STATE_IDENTITY)
		return -1;
	int32_t id = (codes64 ? 2405 : 2401) + (int32_t)base - 1;
	int identity = base != EXCEPTION_STATE;
	int with_state = base != EXCEPTION_DEFAULT;
	if (with_state && h->flavor != CGSIM_NATIVE_FLAVOR)
		return -1; /* thread_getstatus fails: the kernel gives up this level */
	int i = msg_alloc();
	if (i < 0)
		return -1;
	smsg *x = &m.msgs[i];
	unsigned char *b = x->bytes;
	size_t off = 24, cs = codes64 ? 8 : 4;
	memset(b, 0, 128);
	if (identity) {
		wr32(b, 24, 2);
		b[28 + 10] = MACH_MSG_TYPE_COPY_SEND;
		b[40 + 10] = MACH_MSG_TYPE_COPY_SEND;
		x->ndesc = 2;
		x->desc[0] = m.threads[th].port;
		x->desc[1] = m.tasks[m.threads[th].task].port;
		x->desc_type[0] = x->desc_type[1] = MACH_MSG_TYPE_MOVE_SEND;
		off = 52;
	}
	b[off + 4] = 1; /* NDR int_rep: little-endian */
	off += 8;
	wr32(b, off, (uint32_t)exc);
	wr32(b, off + 4, 2);
	off += 8;
	if (codes64) {
		wr64(b, off, code);
		wr64(b, off + 8, subcode);
	} else {
		wr32(b, off, (uint32_t)code);
		wr32(b, off + 4, (uint32_t)subcode);
	}
	off += 2 * cs;
	if (with_state) {
		wr32(b, off, (uint32_t)h->flavor);
		wr32(b, off + 4, CGSIM_NATIVE_COUNT);
		memcpy(b + off + 8, m.threads[th].state, 4 * CGSIM_NATIVE_COUNT);
		off += 8 + 4 * CGSIM_NATIVE_COUNT;
	}
	wr32(b, 0, (identity ? MACH_MSGH_BITS_COMPLEX : 0) | MACH_MSG_TYPE_COPY_SEND |
		       ((uint32_t)MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
	wr32(b, 4, (uint32_t)off);
	wr32(b, 20, (uint32_t)id);
	x->size = (uint32_t)off;
	x->dest = h->port;
	x->reply = kreply;
	x->reply_type = MACH_MSG_TYPE_MOVE_SEND_ONCE;
	*id_out = id;
	return i;
}

/* The MIG client check of a reply (mach_excUser.c __MIG_check__Reply__*):
 * returns its RetCode, or a MIG error. */
static kern_return_t check_reply(const smsg *x, int32_t id, int *state_ok)
{
	int32_t rid, ret;
	uint32_t bits, size = x->size;
	*state_ok = 0;
	memcpy(&bits, x->bytes, 4);
	memcpy(&rid, x->bytes + 20, 4);
	if (rid == MACH_NOTIFY_SEND_ONCE)
		return SIM_MIG_SERVER_DIED;
	if (rid != id + 100)
		return SIM_MIG_REPLY_MISMATCH;
	if ((bits & MACH_MSGH_BITS_COMPLEX) || size < 36)
		return SIM_MIG_TYPE_ERROR;
	memcpy(&ret, x->bytes + 32, 4);
	int with_state = id != 2405 && id != 2401;
	if (ret != KERN_SUCCESS)
		return size == 36 ? ret : SIM_MIG_TYPE_ERROR;
	if (!with_state)
		return size == 36 ? KERN_SUCCESS : SIM_MIG_TYPE_ERROR;
	uint32_t n;
	if (size < 44)
		return SIM_MIG_TYPE_ERROR;
	memcpy(&n, x->bytes + 40, 4);
	if (n > 1296 || size != 44 + 4 * n)
		return SIM_MIG_TYPE_ERROR;
	*state_ok = n == CGSIM_NATIVE_COUNT;
	return KERN_SUCCESS;
}

/* Delivers to one level and waits for the answer with no timeout. */
static kern_return_t deliver(int th, const sexc *h, int32_t exc, int64_t code, int64_t subcode,
			     int *rejected)
{
	if (h->port == 0)
		return KERN_FAILURE;
	if (m.ports[h->port].dead)
		return KERN_FAILURE; /* MACH_SEND_INVALID_DEST: next level */
	int kreply = port_new(K_KREPLY, 0, RX_KERNEL);
	int32_t id;
	int i = build_request(th, h, exc, code, subcode, kreply, &id);
	if (i < 0) {
		port_destroy(kreply);
		return KERN_FAILURE;
	}
	enqueue(h->port, i);
	while (m.ports[kreply].qlen == 0)
		pthread_cond_wait(&m.cv, &m.mu); /* MACH_MSG_TIMEOUT_NONE */
	int r = dequeue(kreply);
	smsg *x = &m.msgs[r];
	int state_ok;
	kern_return_t kr = check_reply(x, id, &state_ok);
	if (kr == SIM_MIG_REPLY_MISMATCH || kr == SIM_MIG_TYPE_ERROR) {
		(*rejected)++;
		if (x->from_space)
			violation("the server sent a reply the kernel rejects", kr);
	}
	unsigned base = (unsigned)h->behavior & ~(unsigned)MACH_EXCEPTION_CODES;
	if (kr == KERN_SUCCESS && base == EXCEPTION_STATE && state_ok)
		set_state(th, (const natural_t *)(x->bytes + 44), CGSIM_NATIVE_COUNT);
	msg_destroy(r);
	port_destroy(kreply); /* the slot is never reused: no stale name can reach a new port */
	return kr;
}

static int blocked_on_this_thread(int sig)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig) == 1;
}

/* exception_triage_thread, then ux_handler -> threadsignal. Called with the
 * lock held, on the faulting thread. */
static void triage(int th, int32_t exc, int64_t code, int64_t subcode, machsim_outcome *out)
{
	memset(out, 0, sizeof *out);
	sthread *t = &m.threads[th];
	sexc levels[2] = {t->exc[exc], m.tasks[t->task].exc[exc]};
	for (int l = 0; l < 2; l++) {
		int rejected = 0;
		kern_return_t kr = deliver(th, &levels[l], exc, code, subcode, &rejected);
		out->rejected += rejected;
		if (kr == KERN_SUCCESS) {
			out->result = MACHSIM_RESUMED;
			out->level = l;
			out->pc = state_word(t->state, PC_WORD);
			return;
		}
		/* The task level may have changed while we waited (e.g. the
		 * second level restored it): read it again, as the kernel does
		 * when it gets there. */
		if (l == 0)
			levels[1] = m.tasks[t->task].exc[exc];
	}
	/* ux_handler (bsd/uxkern/ux_exception.c): EXC_BAD_ACCESS with
	 * KERN_INVALID_ADDRESS is SIGSEGV, anything else SIGBUS. */
	int sig = code == KERN_INVALID_ADDRESS ? SIGSEGV : SIGBUS;
	out->sig = sig;
	out->pc = state_word(t->state, PC_WORD);
	if (t->task != 0) {
		out->result = MACHSIM_CHILD_SIGNAL;
		return;
	}
	if (t->real && blocked_on_this_thread(sig)) {
		violation("synchronous signal blocked on the faulting thread: re-faults forever", sig);
		out->result = MACHSIM_REFAULT;
		return;
	}
	if (m.merge != NULL) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
		out->merged = m.merge(t->tid, ns, sig, 1, (uint64_t)subcode, t->sig_flags);
	}
	if (t->sig_action == MACHSIM_SIG_FATAL) {
		out->result = MACHSIM_DIED;
		if (m.died == 0)
			m.died = sig;
		pthread_cond_broadcast(&m.cv);
		return;
	}
	out->result = MACHSIM_SIGNAL_RECOVERED;
}

/* ---- The displaced handler ---- */

typedef struct {
	int port, mode;
} prev_args;
static prev_args g_prev_args;

static void *prev_handler_main(void *arg)
{
	prev_args *a = arg;
	pthread_mutex_lock(&m.mu);
	for (;;) {
		while (m.ports[a->port].qlen == 0)
			pthread_cond_wait(&m.cv, &m.mu);
		int i = dequeue(a->port);
		smsg *x = &m.msgs[i];
		int32_t id;
		memcpy(&id, x->bytes + 20, 4);
		m.prev_count++;
		m.prev_id = id;
		int identity = id == 2405 || id == 2407 || id == 2401 || id == 2403;
		size_t off = identity ? 52 : 24;
		int codes64 = id >= 2405;
		int64_t c1 = 0; /* code[1]: after NDR, exception, codeCnt, code[0] */
		if (codes64)
			memcpy(&c1, x->bytes + off + 16 + 8, 8);
		else {
			int32_t c;
			memcpy(&c, x->bytes + off + 16 + 4, 4);
			c1 = c;
		}
		m.prev_code1 = c1;
		size_t soff = off + 8 + 8 + (codes64 ? 16 : 8);
		int with_state = !(id == 2405 || id == 2401);
		m.prev_flavor = 0;
		m.prev_state_count = 0;
		natural_t state[CGSIM_NATIVE_COUNT];
		if (with_state) {
			memcpy(&m.prev_flavor, x->bytes + soff, 4);
			memcpy(&m.prev_state_count, x->bytes + soff + 4, 4);
			if (m.prev_state_count == CGSIM_NATIVE_COUNT)
				memcpy(state, x->bytes + soff + 8, sizeof state);
		}
		int reply = x->reply, reply_type = x->reply_type;
		x->reply = 0; /* taken */
		msg_destroy(i);
		if (a->mode == MACHSIM_PREV_HANG) {
			continue; /* keeps the send-once right forever */
		}
		if (a->mode == MACHSIM_PREV_NOREPLY || reply_type != MACH_MSG_TYPE_MOVE_SEND_ONCE) {
			sonce_destroyed(reply);
			continue;
		}
		int r = msg_alloc();
		if (r < 0)
			continue;
		smsg *y = &m.msgs[r];
		unsigned char *b = y->bytes;
		memset(b, 0, 64);
		int32_t ret = a->mode == MACHSIM_PREV_FAILURE ? KERN_FAILURE : KERN_SUCCESS;
		uint32_t size = 36;
		if (ret == KERN_SUCCESS && with_state) {
			uint64_t pc = state_word(state, PC_WORD) + 4;
			memcpy(state + PC_WORD, &pc, 8);
			wr32(b, 36, (uint32_t)m.prev_flavor);
			wr32(b, 40, CGSIM_NATIVE_COUNT);
			memcpy(b + 44, state, sizeof state);
			size = 44 + 4 * CGSIM_NATIVE_COUNT;
		}
		if (a->mode == MACHSIM_PREV_BAD_SIZE)
			size -= 4;
		wr32(b, 0, MACH_MSG_TYPE_MOVE_SEND_ONCE);
		wr32(b, 4, size);
		wr32(b, 20, (uint32_t)(a->mode == MACHSIM_PREV_BAD_ID ? id + 101 : id + 100));
		b[24 + 4] = 1;
		wr32(b, 32, (uint32_t)ret);
		y->size = size;
		y->dest = reply;
		if (m.ports[reply].dead) {
			y->used = 0;
			continue;
		}
		enqueue(reply, r);
	}
	return NULL;
}

/* ---- Threads the server starts ---- */

typedef struct {
	void *(*fn)(void *);
	void *arg;
} start_args;
static start_args g_start[8];
static int g_nstart;

static int thread_slot(int task, uint64_t tid, int real)
{
	for (int i = 0; i < NTHREADS; i++) {
		if (!m.threads[i].used) {
			memset(&m.threads[i], 0, sizeof m.threads[i]);
			m.threads[i].used = 1;
			m.threads[i].task = task;
			m.threads[i].tid = tid;
			m.threads[i].real = real;
			m.threads[i].port = port_new(K_THREAD, i, RX_KERNEL);
			m.ports[m.threads[i].port].immovable = m.tasks[task].immovable;
			return i;
		}
	}
	violation("model out of threads", 0);
	return -1;
}

static void *start_main(void *arg)
{
	start_args *s = arg;
	pthread_mutex_lock(&m.mu);
	t_thread = thread_slot(0, 0x5e0000u + (uint64_t)(s - g_start), 1);
	pthread_mutex_unlock(&m.mu);
	void *r = s->fn(s->arg);
	pthread_mutex_lock(&m.mu);
	if (t_thread >= 0 && m.threads[t_thread].role == ROLE_SERVING) {
		m.serving_ended = 1;
		pthread_cond_broadcast(&m.cv);
	}
	pthread_mutex_unlock(&m.mu);
	return r;
}

int cg_mach_start_thread(void *(*fn)(void *), void *arg)
{
	pthread_mutex_lock(&m.mu);
	if (g_nstart >= 8) {
		pthread_mutex_unlock(&m.mu);
		return EAGAIN;
	}
	start_args *s = &g_start[g_nstart++];
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_unlock(&m.mu);
	/* As on darwin: created with every signal blocked. */
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&t, &attr, start_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

void cg_mach_name_thread(const char *name)
{
	pthread_mutex_lock(&m.mu);
	if (t_thread >= 0)
		m.threads[t_thread].role = strcmp(name, "crashguard.mach-exc") == 0    ? ROLE_SERVING
					   : strcmp(name, "crashguard.mach-exc2") == 0 ? ROLE_SECOND
										       : ROLE_NONE;
	pthread_mutex_unlock(&m.mu);
}

uint64_t cg_mach_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Back-off sleeps run at 1/16 speed: the tests would wait seconds
 * otherwise. */
void cg_mach_sleep_ms(uint32_t ms)
{
	struct timespec ts = {0, (long)ms * 1000000L / 16};
	nanosleep(&ts, NULL);
}

int cg_mach_being_traced(void) { return 0; }
int cg_mach_ndr_ok(void) { return 1; }
thread_state_flavor_t cg_mach_native_flavor(void) { return CGSIM_NATIVE_FLAVOR; }

/* thread_info(THREAD_IDENTIFIER_INFO) + thread_get_state of the native
 * flavor. On the serving thread, an injected fault fires here: a crashing
 * stack walk or record. */
kern_return_t cg_mach_thread_facts_get(thread_t thread, cg_mach_thread_facts *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&m.mu);
	if (m.inject_fault && t_thread >= 0 && m.threads[t_thread].role == ROLE_SERVING) {
		m.inject_fault = 0;
		sthread *self = &m.threads[t_thread];
		self->sig_action = m.inject_action;
		self->sig_flags = m.inject_flags;
		self->tid = 0x5e5e;
		uint64_t pc = 0xc0de;
		memcpy(self->state + PC_WORD, &pc, 8);
		machsim_outcome o;
		triage(t_thread, EXC_BAD_ACCESS, KERN_INVALID_ADDRESS, 0xdead, &o);
		if (o.result == MACHSIM_DIED || o.result == MACHSIM_REFAULT)
			park_forever();
	}
	int th = thread_of_name(thread);
	if (th < 0) {
		pthread_mutex_unlock(&m.mu);
		return KERN_INVALID_ARGUMENT;
	}
	sthread *t = &m.threads[th];
	out->thread_id = t->tid;
	for (int w = 0; w + 1 < CGSIM_NATIVE_COUNT && out->nregs < CG_MAX_REGS; w += 2)
		out->regs[out->nregs++] = state_word(t->state, w);
	out->pc = state_word(t->state, PC_WORD);
	out->sp = state_word(t->state, SP_WORD);
	out->fp = state_word(t->state, FP_WORD);
	pthread_mutex_unlock(&m.mu);
	return KERN_SUCCESS;
}

void simk_set_mach_layer(int on)
{
	pthread_mutex_lock(&m.mu);
	m.mach_layer = on;
	pthread_mutex_unlock(&m.mu);
}

int simk_record_mach_exception(uint64_t thread_id, int32_t exception, int64_t code,
			       int64_t subcode, const uint64_t *regs, uint32_t nregs, uint64_t pc,
			       uint64_t sp, uint64_t fp, uint64_t lr)
{
	pthread_mutex_lock(&m.mu);
	m.records++;
	pthread_mutex_unlock(&m.mu);
	if (m.record == NULL)
		return 0;
	return m.record(thread_id, exception, code, subcode, regs, nregs, pc, sp, fp, lr);
}

/* ---- Test API ---- */

void machsim_reset(void *record, void *merge)
{
	pthread_mutex_lock(&m.mu);
	memset(m.ports, 0, sizeof m.ports);
	memset(m.names, 0, sizeof m.names);
	memset(m.msgs, 0, sizeof m.msgs);
	memset(m.threads, 0, sizeof m.threads);
	memset(m.tasks, 0, sizeof m.tasks);
	memset(m.faults, 0, sizeof m.faults);
	m.record = (int (*)(uint64_t, int32_t, int64_t, int64_t, const uint64_t *, uint32_t,
			    uint64_t, uint64_t, uint64_t, uint64_t))record;
	m.merge = (int (*)(uint64_t, int64_t, int, int, uint64_t, uint32_t))merge;
	m.records = m.server_replies = m.died = m.inject_fault = m.rcv_errors = 0;
	m.serving_ended = m.prev_count = m.nviol = 0;
	m.tasks[0].used = 1;
	m.tasks[0].port = port_new(K_TASK, 0, RX_KERNEL);
	(void)task_name(0); /* mach_task_self()'s name, one uref */
	t_thread = -1;
	t_task = 0;
	pthread_mutex_unlock(&m.mu);
}

int machsim_thread_new(int task, uint64_t tid, uint64_t pc)
{
	pthread_mutex_lock(&m.mu);
	int th = thread_slot(task, tid, 0);
	if (th >= 0) {
		for (int w = 0; w < CGSIM_NATIVE_COUNT; w += 2) {
			uint64_t v = 0x1000 + (uint64_t)w;
			memcpy(m.threads[th].state + w, &v, 8);
		}
		memcpy(m.threads[th].state + PC_WORD, &pc, 8);
	}
	pthread_mutex_unlock(&m.mu);
	return th;
}

void machsim_prev_handler(int32_t behavior, int32_t flavor, int mode)
{
	pthread_mutex_lock(&m.mu);
	int p = port_new(K_PLAIN, 0, RX_KERNEL);
	m.ports[p].prev_handler = 1;
	set_exc(m.tasks[0].exc, EXC_MASK_BAD_ACCESS, p, behavior, flavor);
	g_prev_args.port = p;
	g_prev_args.mode = mode;
	pthread_mutex_unlock(&m.mu);
	pthread_t t;
	pthread_create(&t, NULL, prev_handler_main, &g_prev_args);
	pthread_detach(t);
}

void machsim_set_hardened(int on)
{
	pthread_mutex_lock(&m.mu);
	m.tasks[0].hardened = on;
	pthread_mutex_unlock(&m.mu);
}

int machsim_fork(int immovable)
{
	pthread_mutex_lock(&m.mu);
	int t = -1;
	for (int i = 1; i < NTASKS; i++) {
		if (!m.tasks[i].used) {
			t = i;
			break;
		}
	}
	if (t > 0) {
		m.tasks[t].used = 1;
		m.tasks[t].port = port_new(K_TASK, t, RX_KERNEL);
		/* Another task's ports arrive as read ports, which may be
		 * immovable (xnu ipc_tt.c); both cases are tested. */
		m.ports[m.tasks[t].port].immovable = immovable;
		m.tasks[t].immovable = immovable;
		/* Exception ports survive fork (ipc_tt.c ipc_task_init). */
		memcpy(m.tasks[t].exc, m.tasks[0].exc, sizeof m.tasks[t].exc);
	}
	pthread_mutex_unlock(&m.mu);
	return t;
}

static int g_fork_task;
static void *after_fork_main(void *arg)
{
	(void)arg;
	t_task = g_fork_task;
	cg_mach_after_fork_child();
	/* The child's own mach_task_self() name lives in its own space. */
	pthread_mutex_lock(&m.mu);
	mach_port_name_t n = name_of_port(m.tasks[g_fork_task].port);
	if (n != MACH_PORT_NULL) {
		name_at(n)->send = 0;
		name_gc(n);
	}
	pthread_mutex_unlock(&m.mu);
	return NULL;
}

void machsim_after_fork_child(int task)
{
	g_fork_task = task;
	pthread_t t;
	pthread_create(&t, NULL, after_fork_main, NULL);
	pthread_join(t, NULL);
}

int machsim_install(int32_t *kr, const char **what) { return cg_mach_install(kr, what); }

int32_t machsim_crash_port_null(int on)
{
	const char *what;
	return cg_mach_set_crash_port_null(on, &what);
}

int machsim_serving_ended(void) { return cg_mach_serving_ended(); }

static void *fault_main(void *arg)
{
	sfault *f = arg;
	pthread_mutex_lock(&m.mu);
	t_thread = f->thread;
	machsim_outcome o;
	triage(f->thread, f->exc, f->code, f->subcode, &o);
	f->out = o;
	f->done = 1;
	pthread_cond_broadcast(&m.cv);
	if (o.result == MACHSIM_DIED)
		park_forever();
	pthread_mutex_unlock(&m.mu);
	return NULL;
}

int machsim_fault_start(int thread, int32_t exc, int64_t code, int64_t subcode, int sig_action,
			uint32_t sig_flags)
{
	pthread_mutex_lock(&m.mu);
	int i;
	for (i = 0; i < NFAULTS && m.faults[i].used; i++) {
	}
	if (i == NFAULTS) {
		pthread_mutex_unlock(&m.mu);
		return -1;
	}
	sfault *f = &m.faults[i];
	memset(f, 0, sizeof *f);
	f->used = 1;
	f->thread = thread;
	f->exc = exc;
	f->code = code;
	f->subcode = subcode;
	m.threads[thread].sig_action = sig_action;
	m.threads[thread].sig_flags = sig_flags;
	pthread_mutex_unlock(&m.mu);
	pthread_t t;
	pthread_create(&t, NULL, fault_main, f);
	pthread_detach(t);
	return i;
}

int machsim_fault_wait(int fault, int timeout_ms, machsim_outcome *out)
{
	struct timespec dl;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&m.mu);
	sfault *f = &m.faults[fault];
	while (!f->done && wait_until(&dl, timeout_ms)) {
	}
	int done = f->done;
	if (done)
		*out = f->out;
	pthread_mutex_unlock(&m.mu);
	return done;
}

void machsim_inject_server_fault(int sig_action, uint32_t sig_flags)
{
	pthread_mutex_lock(&m.mu);
	m.inject_fault = 1;
	m.inject_action = sig_action;
	m.inject_flags = sig_flags;
	pthread_mutex_unlock(&m.mu);
}

void machsim_inject_receive_errors(int n, int32_t code)
{
	pthread_mutex_lock(&m.mu);
	m.rcv_errors = n;
	m.rcv_error_code = code;
	pthread_mutex_unlock(&m.mu);
}

int machsim_wait_death(int timeout_ms)
{
	struct timespec dl;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&m.mu);
	while (m.died == 0 && wait_until(&dl, timeout_ms)) {
	}
	int d = m.died;
	pthread_mutex_unlock(&m.mu);
	return d;
}

int machsim_wait_idle(int timeout_ms)
{
	struct timespec dl;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&m.mu);
	while (!m.serving_idle && !m.serving_ended && wait_until(&dl, timeout_ms)) {
	}
	int idle = m.serving_idle || m.serving_ended;
	pthread_mutex_unlock(&m.mu);
	return idle;
}

int machsim_wait_serving_ended(int timeout_ms)
{
	struct timespec dl;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&m.mu);
	while (!m.serving_ended && wait_until(&dl, timeout_ms)) {
	}
	int e = m.serving_ended;
	pthread_mutex_unlock(&m.mu);
	return e;
}

int machsim_task_handler(int task)
{
	pthread_mutex_lock(&m.mu);
	int p = m.tasks[task].exc[EXC_BAD_ACCESS].port, r;
	if (p == 0)
		r = 0;
	else if (m.ports[p].dead)
		r = 3;
	else if (m.ports[p].prev_handler)
		r = 1;
	else
		r = 2;
	pthread_mutex_unlock(&m.mu);
	return r;
}

int64_t machsim_rights(void)
{
	pthread_mutex_lock(&m.mu);
	int64_t n = 0;
	for (int i = 0; i < NNAMES; i++)
		if (m.names[i].used)
			n += m.names[i].recv + m.names[i].send + m.names[i].sonce + m.names[i].dead;
	for (int i = 0; i < NMSGS; i++)
		n += m.msgs[i].used;
	pthread_mutex_unlock(&m.mu);
	return n;
}

int machsim_records(void)
{
	pthread_mutex_lock(&m.mu);
	int n = m.records;
	pthread_mutex_unlock(&m.mu);
	return n;
}

int machsim_server_replies(void)
{
	pthread_mutex_lock(&m.mu);
	int n = m.server_replies;
	pthread_mutex_unlock(&m.mu);
	return n;
}

int machsim_prev_seen(int32_t *id, int32_t *flavor, uint32_t *state_count, int64_t *code1)
{
	pthread_mutex_lock(&m.mu);
	int n = m.prev_count;
	*id = m.prev_id;
	*flavor = m.prev_flavor;
	*state_count = m.prev_state_count;
	*code1 = m.prev_code1;
	pthread_mutex_unlock(&m.mu);
	return n;
}

int machsim_violations(char *buf, int cap)
{
	pthread_mutex_lock(&m.mu);
	int n = m.nviol, at = 0;
	if (cap > 0)
		buf[0] = 0;
	for (int i = 0; i < n && i < 16 && at < cap - 1; i++)
		at += snprintf(buf + at, (size_t)(cap - at), "%s\n", m.viol[i]);
	pthread_mutex_unlock(&m.mu);
	return n;
}

int32_t machsim_native_flavor(void) { return CGSIM_NATIVE_FLAVOR; }

uint64_t machsim_thread_pc(int thread)
{
	pthread_mutex_lock(&m.mu);
	uint64_t pc = state_word(m.threads[thread].state, PC_WORD);
	pthread_mutex_unlock(&m.mu);
	return pc;
}
