//go:build cgo

/*
 * exception.c: exception ports, thread state, and exception delivery as
 * xnu's exception_triage does it; the displaced handler the tests install.
 */
#define _GNU_SOURCE
#define MACHSIM_MODEL 1
#include "model.h"

ms_prev_args_t ms_prev_args;

/* The port a send right names, for registering it with the kernel. */
static int port_for_registration(mach_port_name_t n, int *port)
{
	*port = 0;
	if (n == MACH_PORT_NULL)
		return 1;
	sname *e = ms_name_at(n);
	if (e == NULL || (e->send == 0 && e->dead == 0))
		return 0;
	*port = e->port;
	return 1;
}

static int task_of_name(mach_port_name_t n)
{
	sname *e = ms_name_at(n);
	if (e == NULL || mdl.ports[e->port].kind != K_TASK)
		return -1;
	return mdl.ports[e->port].obj;
}

int ms_thread_of_name(mach_port_name_t n)
{
	sname *e = ms_name_at(n);
	if (e == NULL || mdl.ports[e->port].kind != K_THREAD)
		return -1;
	return mdl.ports[e->port].obj;
}

static kern_return_t check_registration(int task, exception_mask_t mask, int port,
					exception_behavior_t behavior)
{
	/* crashguard's rule (DESIGN.md): the kernel skips such a receiver in
	 * the crashing task (exception.c check_exc_receiver_dependency). */
	if ((mask & (EXC_MASK_CRASH | EXC_MASK_CORPSE_NOTIFY)) && port != 0)
		ms_violation("EXC_CRASH/EXC_CORPSE_NOTIFY registered to a port in-process", (long long)mask);
	/* Hardened tasks may only use identity-protected behaviors
	 * (ipc_tt.c exception_is_identity_protected). */
	int base = (int)((unsigned)behavior & ~(unsigned)MACH_EXCEPTION_CODES);
	if (task >= 0 && mdl.tasks[task].hardened && port != 0 && base != EXCEPTION_STATE &&
	    base != SIM_EXCEPTION_IDENTITY_PROTECTED)
		return KERN_DENIED;
	return KERN_SUCCESS;
}

void ms_set_exc(sexc *table, exception_mask_t mask, int port, exception_behavior_t behavior,
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
			if (ports[j] != MACH_PORT_NULL && ms_name_at(ports[j]) != NULL &&
			    ms_name_at(ports[j])->port == table[e].port && behaviors[j] == table[e].behavior &&
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
		ports[n] = ms_copyout_right(table[e].port, MACH_MSG_TYPE_MOVE_SEND);
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
	pthread_mutex_lock(&mdl.mu);
	int t = task_of_name(task), p;
	kern_return_t kr = KERN_SUCCESS;
	if (t < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(t, mask, p, behavior);
	if (kr == KERN_SUCCESS) {
		get_exc(mdl.tasks[t].exc, mask, masks, count, ports, behaviors, flavors);
		ms_set_exc(mdl.tasks[t].exc, mask, p, behavior, flavor);
	}
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_task_get_exception_ports(task_t task, exception_mask_t mask,
					    exception_mask_array_t masks,
					    mach_msg_type_number_t *count,
					    exception_handler_array_t ports,
					    exception_behavior_array_t behaviors,
					    exception_flavor_array_t flavors)
{
	pthread_mutex_lock(&mdl.mu);
	int t = task_of_name(task);
	kern_return_t kr = t < 0 ? KERN_INVALID_ARGUMENT : KERN_SUCCESS;
	if (kr == KERN_SUCCESS)
		get_exc(mdl.tasks[t].exc, mask, masks, count, ports, behaviors, flavors);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_task_set_exception_ports(task_t task, exception_mask_t mask, mach_port_t port,
					    exception_behavior_t behavior,
					    thread_state_flavor_t flavor)
{
	pthread_mutex_lock(&mdl.mu);
	int t = task_of_name(task), p;
	kern_return_t kr = KERN_SUCCESS;
	if (t < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(t, mask, p, behavior);
	if (kr == KERN_SUCCESS)
		ms_set_exc(mdl.tasks[t].exc, mask, p, behavior, flavor);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_thread_set_exception_ports(thread_act_t thread, exception_mask_t mask,
					      mach_port_t port, exception_behavior_t behavior,
					      thread_state_flavor_t flavor)
{
	pthread_mutex_lock(&mdl.mu);
	int th = ms_thread_of_name(thread), p;
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0 || !port_for_registration(port, &p))
		kr = KERN_INVALID_ARGUMENT;
	if (kr == KERN_SUCCESS)
		kr = check_registration(mdl.threads[th].task, mask, p, behavior);
	if (kr == KERN_SUCCESS)
		ms_set_exc(mdl.threads[th].exc, mask, p, behavior, flavor);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

kern_return_t simk_thread_get_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t *count)
{
	pthread_mutex_lock(&mdl.mu);
	int th = ms_thread_of_name(thread);
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0)
		kr = KERN_INVALID_ARGUMENT;
	else if (flavor != CGSIM_NATIVE_FLAVOR || *count < CGSIM_NATIVE_COUNT)
		kr = KERN_INVALID_ARGUMENT;
	else {
		memcpy(state, mdl.threads[th].state, sizeof mdl.threads[th].state);
		*count = CGSIM_NATIVE_COUNT;
	}
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

void ms_set_state(int th, const natural_t *state, mach_msg_type_number_t count)
{
	memcpy(mdl.threads[th].state, state, 4 * (size_t)count);
}

kern_return_t simk_thread_set_state(thread_t thread, thread_state_flavor_t flavor,
				    thread_state_t state, mach_msg_type_number_t count)
{
	pthread_mutex_lock(&mdl.mu);
	int th = ms_thread_of_name(thread);
	kern_return_t kr = KERN_SUCCESS;
	if (th < 0 || flavor != CGSIM_NATIVE_FLAVOR || count != CGSIM_NATIVE_COUNT)
		kr = KERN_INVALID_ARGUMENT;
	else
		ms_set_state(th, state, count);
	pthread_mutex_unlock(&mdl.mu);
	return kr;
}

uint64_t ms_state_word(const natural_t *s, int w)
{
	uint64_t v;
	memcpy(&v, s + w, 8);
	return v;
}

/* ---- Exception delivery (exception_triage) ---- */

void ms_wr32(unsigned char *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void ms_wr64(unsigned char *b, size_t off, int64_t v) { memcpy(b + off, &v, 8); }

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
	int i = ms_msg_alloc();
	if (i < 0)
		return -1;
	smsg *x = &mdl.msgs[i];
	unsigned char *b = x->bytes;
	size_t off = 24, cs = codes64 ? 8 : 4;
	memset(b, 0, 128);
	if (identity) {
		ms_wr32(b, 24, 2);
		b[28 + 10] = MACH_MSG_TYPE_COPY_SEND;
		b[40 + 10] = MACH_MSG_TYPE_COPY_SEND;
		x->ndesc = 2;
		x->desc[0] = mdl.threads[th].port;
		x->desc[1] = mdl.tasks[mdl.threads[th].task].port;
		x->desc_type[0] = x->desc_type[1] = MACH_MSG_TYPE_MOVE_SEND;
		off = 52;
	}
	b[off + 4] = 1; /* NDR int_rep: little-endian */
	off += 8;
	ms_wr32(b, off, (uint32_t)exc);
	ms_wr32(b, off + 4, 2);
	off += 8;
	if (codes64) {
		ms_wr64(b, off, code);
		ms_wr64(b, off + 8, subcode);
	} else {
		ms_wr32(b, off, (uint32_t)code);
		ms_wr32(b, off + 4, (uint32_t)subcode);
	}
	off += 2 * cs;
	if (with_state) {
		ms_wr32(b, off, (uint32_t)h->flavor);
		ms_wr32(b, off + 4, CGSIM_NATIVE_COUNT);
		memcpy(b + off + 8, mdl.threads[th].state, 4 * CGSIM_NATIVE_COUNT);
		off += 8 + 4 * CGSIM_NATIVE_COUNT;
	}
	ms_wr32(b, 0, (identity ? MACH_MSGH_BITS_COMPLEX : 0) | MACH_MSG_TYPE_COPY_SEND |
		       ((uint32_t)MACH_MSG_TYPE_MAKE_SEND_ONCE << 8));
	ms_wr32(b, 4, (uint32_t)off);
	ms_wr32(b, 20, (uint32_t)id);
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
	if (mdl.ports[h->port].dead)
		return KERN_FAILURE; /* MACH_SEND_INVALID_DEST: next level */
	int kreply = ms_port_new(K_KREPLY, 0, RX_KERNEL);
	int32_t id;
	int i = build_request(th, h, exc, code, subcode, kreply, &id);
	if (i < 0) {
		ms_port_destroy(kreply);
		return KERN_FAILURE;
	}
	ms_enqueue(h->port, i);
	while (mdl.ports[kreply].qlen == 0)
		pthread_cond_wait(&mdl.cv, &mdl.mu); /* MACH_MSG_TIMEOUT_NONE */
	int r = ms_dequeue(kreply);
	smsg *x = &mdl.msgs[r];
	int state_ok;
	kern_return_t kr = check_reply(x, id, &state_ok);
	if (kr == SIM_MIG_REPLY_MISMATCH || kr == SIM_MIG_TYPE_ERROR) {
		(*rejected)++;
		if (x->from_space)
			ms_violation("the server sent a reply the kernel rejects", kr);
	}
	unsigned base = (unsigned)h->behavior & ~(unsigned)MACH_EXCEPTION_CODES;
	if (kr == KERN_SUCCESS && base == EXCEPTION_STATE && state_ok)
		ms_set_state(th, (const natural_t *)(x->bytes + 44), CGSIM_NATIVE_COUNT);
	ms_msg_destroy(r);
	ms_port_destroy(kreply); /* the slot is never reused: no stale name can reach a new port */
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
void ms_triage(int th, int32_t exc, int64_t code, int64_t subcode, machsim_outcome *out)
{
	memset(out, 0, sizeof *out);
	sthread *t = &mdl.threads[th];
	sexc levels[2] = {t->exc[exc], mdl.tasks[t->task].exc[exc]};
	for (int l = 0; l < 2; l++) {
		int rejected = 0;
		kern_return_t kr = deliver(th, &levels[l], exc, code, subcode, &rejected);
		out->rejected += rejected;
		if (kr == KERN_SUCCESS) {
			out->result = MACHSIM_RESUMED;
			out->level = l;
			out->pc = ms_state_word(t->state, PC_WORD);
			return;
		}
		/* The task level may have changed while we waited (e.g. the
		 * second level restored it): read it again, as the kernel does
		 * when it gets there. */
		if (l == 0)
			levels[1] = mdl.tasks[t->task].exc[exc];
	}
	/* ux_handler (bsd/uxkern/ux_exception.c): EXC_BAD_ACCESS with
	 * KERN_INVALID_ADDRESS is SIGSEGV, anything else SIGBUS. */
	int sig = code == KERN_INVALID_ADDRESS ? SIGSEGV : SIGBUS;
	out->sig = sig;
	out->pc = ms_state_word(t->state, PC_WORD);
	if (t->task != 0) {
		out->result = MACHSIM_CHILD_SIGNAL;
		return;
	}
	if (t->real && blocked_on_this_thread(sig)) {
		ms_violation("synchronous signal blocked on the faulting thread: re-faults forever", sig);
		out->result = MACHSIM_REFAULT;
		return;
	}
	if (mdl.merge != NULL) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
		out->merged = mdl.merge(t->tid, ns, sig, 1, (uint64_t)subcode, t->sig_flags);
	}
	if (t->sig_action == MACHSIM_SIG_FATAL) {
		out->result = MACHSIM_DIED;
		if (mdl.died == 0)
			mdl.died = sig;
		pthread_cond_broadcast(&mdl.cv);
		return;
	}
	out->result = MACHSIM_SIGNAL_RECOVERED;
}

/* ---- The displaced handler ---- */


void *ms_prev_handler_main(void *arg)
{
	ms_prev_args_t *a = arg;
	pthread_mutex_lock(&mdl.mu);
	for (;;) {
		while (mdl.ports[a->port].qlen == 0)
			pthread_cond_wait(&mdl.cv, &mdl.mu);
		int i = ms_dequeue(a->port);
		smsg *x = &mdl.msgs[i];
		int32_t id;
		memcpy(&id, x->bytes + 20, 4);
		mdl.prev_count++;
		mdl.prev_id = id;
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
		mdl.prev_code1 = c1;
		size_t soff = off + 8 + 8 + (codes64 ? 16 : 8);
		int with_state = !(id == 2405 || id == 2401);
		mdl.prev_flavor = 0;
		mdl.prev_state_count = 0;
		natural_t state[CGSIM_NATIVE_COUNT];
		if (with_state) {
			memcpy(&mdl.prev_flavor, x->bytes + soff, 4);
			memcpy(&mdl.prev_state_count, x->bytes + soff + 4, 4);
			if (mdl.prev_state_count == CGSIM_NATIVE_COUNT)
				memcpy(state, x->bytes + soff + 8, sizeof state);
		}
		int reply = x->reply, reply_type = x->reply_type;
		x->reply = 0; /* taken */
		ms_msg_destroy(i);
		if (a->mode == MACHSIM_PREV_HANG) {
			continue; /* keeps the send-once right forever */
		}
		if (a->mode == MACHSIM_PREV_NOREPLY || reply_type != MACH_MSG_TYPE_MOVE_SEND_ONCE) {
			ms_sonce_destroyed(reply);
			continue;
		}
		int r = ms_msg_alloc();
		if (r < 0)
			continue;
		smsg *y = &mdl.msgs[r];
		unsigned char *b = y->bytes;
		memset(b, 0, 64);
		int32_t ret = a->mode == MACHSIM_PREV_FAILURE ? KERN_FAILURE : KERN_SUCCESS;
		uint32_t size = 36;
		if (ret == KERN_SUCCESS && with_state) {
			uint64_t pc = ms_state_word(state, PC_WORD) + 4;
			memcpy(state + PC_WORD, &pc, 8);
			ms_wr32(b, 36, (uint32_t)mdl.prev_flavor);
			ms_wr32(b, 40, CGSIM_NATIVE_COUNT);
			memcpy(b + 44, state, sizeof state);
			size = 44 + 4 * CGSIM_NATIVE_COUNT;
		}
		if (a->mode == MACHSIM_PREV_BAD_SIZE)
			size -= 4;
		ms_wr32(b, 0, MACH_MSG_TYPE_MOVE_SEND_ONCE);
		ms_wr32(b, 4, size);
		ms_wr32(b, 20, (uint32_t)(a->mode == MACHSIM_PREV_BAD_ID ? id + 101 : id + 100));
		b[24 + 4] = 1;
		ms_wr32(b, 32, (uint32_t)ret);
		y->size = size;
		y->dest = reply;
		if (mdl.ports[reply].dead) {
			y->used = 0;
			continue;
		}
		ms_enqueue(reply, r);
	}
	return NULL;
}

