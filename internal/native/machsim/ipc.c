//go:build cgo

/*
 * ipc.c: ports, rights and mach_msg. With exception.c and api.c, a small
 * model of xnu's Mach IPC and exception delivery for running the real
 * exception server (cg_mach_server_darwin.c) on Linux.
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
#include "model.h"

struct ms_model mdl = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
__thread int ms_t_thread = -1;
__thread int ms_t_task = 0;

void ms_violation(const char *what, long long a)
{
	if (mdl.nviol < 16)
		snprintf(mdl.viol[mdl.nviol], sizeof mdl.viol[0], "%s (%lld)", what, a);
	mdl.nviol++;
}

/* ---- Waiting ---- */

void ms_deadline_in(struct timespec *ts, long ms)
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
int ms_wait_until(const struct timespec *dl, long ms)
{
	if (ms < 0) {
		pthread_cond_wait(&mdl.cv, &mdl.mu);
		return 1;
	}
	return pthread_cond_timedwait(&mdl.cv, &mdl.mu, dl) != ETIMEDOUT;
}

/* A dead process: its threads never run again. */
void ms_park_forever(void)
{
	for (;;)
		pthread_cond_wait(&mdl.cv, &mdl.mu);
}

/* ---- Ports, names, messages ---- */

int ms_port_new(int kind, int obj, int rx)
{
	for (int i = 1; i < NPORTS; i++) {
		if (!mdl.ports[i].used) {
			memset(&mdl.ports[i], 0, sizeof mdl.ports[i]);
			mdl.ports[i].used = 1;
			mdl.ports[i].kind = kind;
			mdl.ports[i].obj = obj;
			mdl.ports[i].rx = rx;
			mdl.ports[i].qhead = mdl.ports[i].qtail = -1;
			return i;
		}
	}
	ms_violation("model out of ports", 0);
	return 0;
}

sname *ms_name_at(mach_port_name_t n)
{
	if (n < NAME_BASE || n >= NAME_BASE + NNAMES)
		return NULL;
	/* A name means something only in its own task's space: a fork child
	 * gets a new space, and the parent's names are not in it (xnu
	 * osfmk/kern/ipc_tt.c ipc_task_init copies only special and exception
	 * ports). */
	sname *e = &mdl.names[n - NAME_BASE];
	return e->used && e->space == ms_t_task ? e : NULL;
}

mach_port_name_t ms_name_new(int port)
{
	for (int i = 0; i < NNAMES; i++) {
		if (!mdl.names[i].used) {
			memset(&mdl.names[i], 0, sizeof mdl.names[i]);
			mdl.names[i].used = 1;
			mdl.names[i].space = ms_t_task;
			mdl.names[i].port = port;
			return NAME_BASE + (mach_port_name_t)i;
		}
	}
	ms_violation("model out of names", 0);
	return MACH_PORT_NULL;
}

void ms_name_gc(mach_port_name_t n)
{
	sname *e = ms_name_at(n);
	if (e != NULL && e->recv == 0 && e->send == 0 && e->sonce == 0 && e->dead == 0)
		e->used = 0;
}

/* The name holding receive or send rights for port (one per port). */
mach_port_name_t ms_name_of_port(int port)
{
	for (int i = 0; i < NNAMES; i++)
		if (mdl.names[i].used && mdl.names[i].space == ms_t_task && mdl.names[i].port == port &&
		    mdl.names[i].sonce == 0 &&
		    (mdl.names[i].recv || mdl.names[i].send || mdl.names[i].dead))
			return NAME_BASE + (mach_port_name_t)i;
	return MACH_PORT_NULL;
}

/* Copies a right out into the calling task's space; returns its name.
 * type 17 or 18. */
mach_port_name_t ms_copyout_right(int port, int type)
{
	if (port == 0)
		return MACH_PORT_NULL;
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
		mach_port_name_t n = ms_name_new(port);
		if (n != MACH_PORT_NULL)
			ms_name_at(n)->sonce = 1;
		return n;
	}
	mach_port_name_t n = ms_name_of_port(port);
	if (n == MACH_PORT_NULL)
		n = ms_name_new(port);
	if (n != MACH_PORT_NULL) {
		if (mdl.ports[port].dead)
			ms_name_at(n)->dead++;
		else
			ms_name_at(n)->send++;
	}
	return n;
}


/* A send-once right to port is destroyed unused: its port hears of it. */
void ms_sonce_destroyed(int port)
{
	sport *p = &mdl.ports[port];
	if (!p->used || p->dead)
		return;
	for (int i = 0; i < NMSGS; i++) {
		if (!mdl.msgs[i].used) {
			smsg *x = &mdl.msgs[i];
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
			ms_enqueue(port, i);
			return;
		}
	}
	ms_violation("model out of messages", 0);
}

/* Releases a right that was in flight (in a message being destroyed). */
static void release_carried(int port, int type)
{
	if (port == 0)
		return;
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE)
		ms_sonce_destroyed(port);
}

void ms_msg_destroy(int i)
{
	smsg *x = &mdl.msgs[i];
	release_carried(x->reply, x->reply_type);
	for (int d = 0; d < x->ndesc; d++)
		release_carried(x->desc[d], x->desc_type[d]);
	x->used = 0;
}

void ms_enqueue(int port, int i)
{
	sport *p = &mdl.ports[port];
	mdl.msgs[i].next = -1;
	if (p->qtail >= 0)
		mdl.msgs[p->qtail].next = i;
	else
		p->qhead = i;
	p->qtail = i;
	p->qlen++;
	pthread_cond_broadcast(&mdl.cv);
}

int ms_dequeue(int port)
{
	sport *p = &mdl.ports[port];
	int i = p->qhead;
	if (i < 0)
		return -1;
	p->qhead = mdl.msgs[i].next;
	if (p->qhead < 0)
		p->qtail = -1;
	p->qlen--;
	return i;
}

/* The receive right of port dies: queued messages and their rights go,
 * send rights in our space become dead names (ipc_port_destroy). */
void ms_port_destroy(int port)
{
	sport *p = &mdl.ports[port];
	if (!p->used || p->dead)
		return;
	p->dead = 1;
	int i;
	while ((i = ms_dequeue(port)) >= 0)
		ms_msg_destroy(i);
	for (int n = 0; n < NNAMES; n++) {
		sname *e = &mdl.names[n];
		if (!e->used || e->port != port)
			continue;
		e->recv = 0;
		e->dead += e->send + e->sonce;
		e->send = e->sonce = 0;
		if (e->recv == 0 && e->send == 0 && e->sonce == 0 && e->dead == 0)
			e->used = 0; /* in whichever space it is */
	}
	pthread_cond_broadcast(&mdl.cv);
}

int ms_msg_alloc(void)
{
	for (int i = 0; i < NMSGS; i++) {
		if (!mdl.msgs[i].used) {
			memset(&mdl.msgs[i], 0, offsetof(smsg, bytes));
			mdl.msgs[i].used = 1;
			return i;
		}
	}
	ms_violation("model out of messages", 0);
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
	sname *e = ms_name_at(r->name);
	if (e == NULL)
		return KERN_INVALID_NAME;
	r->port = e->port;
	sport *p = &mdl.ports[e->port];
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
	sname *e = ms_name_at(r->name);
	if (r->disp == MACH_MSG_TYPE_MOVE_SEND)
		e->send--;
	else if (r->disp == MACH_MSG_TYPE_MOVE_SEND_ONCE)
		e->sonce = 0;
	ms_name_gc(r->name);
}

static mach_msg_return_t do_send(mach_msg_header_t *h, mach_msg_size_t size)
{
	unsigned char *b = (unsigned char *)h;
	if (size < sizeof *h || size > MSGCAP - 8 || h->msgh_size != size) {
		ms_violation("mach_msg send: bad size", size);
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
			ms_violation("mach_msg send: bad descriptors", count);
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
			ms_sonce_destroyed(reply.port);
		}
		if (dest.disp == MACH_MSG_TYPE_MOVE_SEND || dest.disp == MACH_MSG_TYPE_MOVE_SEND_ONCE)
			consume_right(&dest);
		return MACH_SEND_INVALID_RIGHT;
	}
	sport *dp = &mdl.ports[dest.port];
	if (dp->dead)
		return MACH_SEND_INVALID_DEST;
	int i = ms_msg_alloc();
	if (i < 0)
		return MACH_SEND_INVALID_DEST;
	smsg *x = &mdl.msgs[i];
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
		mdl.server_replies++;
	ms_enqueue(dest.port, i);
	return MACH_MSG_SUCCESS;
}

static mach_msg_return_t do_receive(mach_msg_header_t *h, mach_msg_option_t opt,
				    mach_msg_size_t cap, mach_port_name_t name,
				    mach_msg_timeout_t timeout)
{
	sthread *self = ms_t_thread >= 0 ? &mdl.threads[ms_t_thread] : NULL;
	if (self != NULL && self->role == ROLE_SERVING && mdl.rcv_errors > 0) {
		mdl.rcv_errors--;
		return mdl.rcv_error_code;
	}
	sname *e = ms_name_at(name);
	if (e == NULL || !e->recv)
		return MACH_RCV_INVALID_NAME;
	int port = e->port;
	struct timespec dl = {0, 0};
	long ms = (opt & MACH_RCV_TIMEOUT) ? (long)timeout : -1;
	if (ms >= 0)
		ms_deadline_in(&dl, ms);
	int serving = self != NULL && self->role == ROLE_SERVING && ms < 0;
	while (mdl.ports[port].qlen == 0) {
		if (mdl.ports[port].dead)
			return MACH_RCV_PORT_DIED;
		if (serving && !mdl.serving_idle) {
			mdl.serving_idle = 1;
			pthread_cond_broadcast(&mdl.cv);
		}
		if (!ms_wait_until(&dl, ms))
			return MACH_RCV_TIMED_OUT;
	}
	if (serving)
		mdl.serving_idle = 0;
	if (mdl.ports[port].dead)
		return MACH_RCV_PORT_DIED;
	smsg *x = &mdl.msgs[mdl.ports[port].qhead];
	if (x->size + 8 > cap) {
		if (opt & MACH_RCV_LARGE) {
			h->msgh_size = x->size + 8;
			return MACH_RCV_TOO_LARGE;
		}
		ms_msg_destroy(ms_dequeue(port));
		return MACH_RCV_TOO_LARGE;
	}
	int i = ms_dequeue(port);
	x = &mdl.msgs[i];
	unsigned char *b = (unsigned char *)h;
	memcpy(b, x->bytes, x->size);
	mach_msg_header_t *rh = (mach_msg_header_t *)b;
	mach_port_name_t rname = ms_copyout_right(x->reply, x->reply_type);
	uint32_t complex = rh->msgh_bits & MACH_MSGH_BITS_COMPLEX;
	/* Received: remote = the reply right, local = our receive name. */
	rh->msgh_bits = complex | (uint32_t)x->reply_type |
			((uint32_t)MACH_MSG_TYPE_MOVE_SEND << 8);
	rh->msgh_remote_port = rname;
	rh->msgh_local_port = name;
	rh->msgh_voucher_port = MACH_PORT_NULL;
	for (int d = 0; d < x->ndesc; d++) {
		mach_port_name_t dn = ms_copyout_right(x->desc[d], x->desc_type[d]);
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
	pthread_mutex_lock(&mdl.mu);
	mach_msg_return_t mr = MACH_MSG_SUCCESS;
	if (option & MACH_SEND_MSG)
		mr = do_send(msg, send_size);
	if (mr == MACH_MSG_SUCCESS && (option & MACH_RCV_MSG))
		mr = do_receive(msg, option, rcv_size, rcv_name, timeout);
	pthread_mutex_unlock(&mdl.mu);
	return mr;
}

/* libsyscall mach_msg_destroy: the remote right, then the descriptors; the
 * local port holds no right in a received message. */
static void destroy_named(mach_port_name_t n, int type)
{
	sname *e = ms_name_at(n);
	if (e == NULL) {
		/* libsyscall ignores the error, but the name may have been
		 * reused by then: a right released twice. */
		if (MACH_PORT_VALID(n) && type >= MACH_MSG_TYPE_MOVE_RECEIVE &&
		    type <= MACH_MSG_TYPE_MOVE_SEND_ONCE)
			ms_violation("mach_msg_destroy of a right not held (released twice?)", (long long)n);
		return;
	}
	if (type == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
		if (e->sonce) {
			e->sonce = 0;
			ms_sonce_destroyed(e->port);
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
		ms_port_destroy(e->port);
	}
	ms_name_gc(n);
}

void simk_mach_msg_destroy(mach_msg_header_t *h)
{
	pthread_mutex_lock(&mdl.mu);
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
	pthread_mutex_unlock(&mdl.mu);
}

/* ---- Tasks, threads, ports ---- */

mach_port_name_t ms_task_name(int task)
{
	mach_port_name_t n = ms_name_of_port(mdl.tasks[task].port);
	if (n == MACH_PORT_NULL) {
		n = ms_name_new(mdl.tasks[task].port);
		if (n != MACH_PORT_NULL)
			ms_name_at(n)->send = 1;
	}
	return n;
}

mach_port_t simk_task_self(void)
{
	pthread_mutex_lock(&mdl.mu);
	mach_port_name_t n = ms_task_name(ms_t_task);
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

mach_port_t simk_thread_self(void)
{
	pthread_mutex_lock(&mdl.mu);
	mach_port_name_t n = MACH_PORT_NULL;
	if (ms_t_thread >= 0)
		n = ms_copyout_right(mdl.threads[ms_t_thread].port, MACH_MSG_TYPE_MOVE_SEND);
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

kern_return_t simk_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t *name)
{
	(void)task;
	if (right != MACH_PORT_RIGHT_RECEIVE)
		return KERN_INVALID_VALUE;
	pthread_mutex_lock(&mdl.mu);
	int p = ms_port_new(K_PLAIN, 0, RX_SPACE);
	mdl.ports[p].from_server = 1;
	*name = ms_name_new(p);
	if (*name != MACH_PORT_NULL)
		ms_name_at(*name)->recv = 1;
	pthread_mutex_unlock(&mdl.mu);
	return *name != MACH_PORT_NULL ? KERN_SUCCESS : KERN_FAILURE;
}

kern_return_t simk_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
				     mach_msg_type_name_t poly_poly)
{
	(void)task;
	pthread_mutex_lock(&mdl.mu);
	sname *e = ms_name_at(name);
	kern_return_t kr = KERN_SUCCESS;
	if (e == NULL || poly != name || poly_poly != MACH_MSG_TYPE_MAKE_SEND || !e->recv)
		kr = KERN_INVALID_RIGHT;
	else
		e->send++;
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
				 mach_port_delta_t delta)
{
	(void)task;
	pthread_mutex_lock(&mdl.mu);
	kern_return_t kr = KERN_SUCCESS;
	sname *e = ms_name_at(name);
	if (e == NULL) {
		kr = KERN_INVALID_NAME;
	} else if (right == MACH_PORT_RIGHT_RECEIVE) {
		if (!e->recv || delta != -1) {
			kr = KERN_INVALID_RIGHT;
		} else {
			e->recv = 0;
			ms_port_destroy(e->port);
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
		ms_violation("mach_port_mod_refs on a right not held", (long long)kr);
	ms_name_gc(name);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_port_deallocate(ipc_space_t task, mach_port_name_t name)
{
	(void)task;
	pthread_mutex_lock(&mdl.mu);
	kern_return_t kr = KERN_SUCCESS;
	sname *e = ms_name_at(name);
	if (e == NULL) {
		kr = KERN_INVALID_NAME;
	} else if (e->sonce) {
		e->sonce = 0;
		ms_sonce_destroyed(e->port);
	} else if (e->send) {
		e->send--;
	} else if (e->dead) {
		e->dead--;
	} else {
		kr = KERN_INVALID_RIGHT;
	}
	if (kr != KERN_SUCCESS)
		ms_violation("mach_port_deallocate of a right not held", (long long)kr);
	else
		ms_name_gc(name);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

