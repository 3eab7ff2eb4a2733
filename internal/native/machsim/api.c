//go:build cgo

/*
 * api.c: the helpers cg_mach_kernel.h asks for (thread creation, clocks,
 * thread facts), the recorder hooks, and the test API of machsim.h.
 */
#define _GNU_SOURCE
#define MACHSIM_MODEL 1
#include "model.h"

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
		if (!mdl.threads[i].used) {
			memset(&mdl.threads[i], 0, sizeof mdl.threads[i]);
			mdl.threads[i].used = 1;
			mdl.threads[i].task = task;
			mdl.threads[i].tid = tid;
			mdl.threads[i].real = real;
			mdl.threads[i].port = ms_port_new(K_THREAD, i, RX_KERNEL);
			mdl.ports[mdl.threads[i].port].immovable = mdl.tasks[task].immovable;
			return i;
		}
	}
	ms_violation("model out of threads", 0);
	return -1;
}

static void *start_main(void *arg)
{
	start_args *s = arg;
	pthread_mutex_lock(&mdl.mu);
	ms_t_thread = thread_slot(0, 0x5e0000u + (uint64_t)(s - g_start), 1);
	pthread_mutex_unlock(&mdl.mu);
	void *r = s->fn(s->arg);
	pthread_mutex_lock(&mdl.mu);
	if (ms_t_thread >= 0 && mdl.threads[ms_t_thread].role == ROLE_SERVING) {
		mdl.serving_ended = 1;
		pthread_cond_broadcast(&mdl.cv);
	}
	pthread_mutex_unlock(&mdl.mu);
	return r;
}

int cg_mach_start_thread(void *(*fn)(void *), void *arg)
{
	pthread_mutex_lock(&mdl.mu);
	if (g_nstart >= 8) {
		pthread_mutex_unlock(&mdl.mu);
		return EAGAIN;
	}
	start_args *s = &g_start[g_nstart++];
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_unlock(&mdl.mu);
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
	pthread_mutex_lock(&mdl.mu);
	if (ms_t_thread >= 0)
		mdl.threads[ms_t_thread].role = strcmp(name, "crashguard.mach-exc") == 0    ? ROLE_SERVING
					   : strcmp(name, "crashguard.mach-exc2") == 0 ? ROLE_SECOND
										       : ROLE_NONE;
	pthread_mutex_unlock(&mdl.mu);
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
	pthread_mutex_lock(&mdl.mu);
	if (mdl.inject_fault && ms_t_thread >= 0 && mdl.threads[ms_t_thread].role == ROLE_SERVING) {
		mdl.inject_fault = 0;
		sthread *self = &mdl.threads[ms_t_thread];
		self->sig_action = mdl.inject_action;
		self->sig_flags = mdl.inject_flags;
		self->tid = 0x5e5e;
		uint64_t pc = 0xc0de;
		memcpy(self->state + PC_WORD, &pc, 8);
		machsim_outcome o;
		ms_triage(ms_t_thread, EXC_BAD_ACCESS, KERN_INVALID_ADDRESS, 0xdead, &o);
		if (o.result == MACHSIM_DIED || o.result == MACHSIM_REFAULT)
			ms_park_forever();
	}
	int th = ms_thread_of_name(thread);
	if (th < 0) {
		pthread_mutex_unlock(&mdl.mu);
		return KERN_INVALID_ARGUMENT;
	}
	sthread *t = &mdl.threads[th];
	out->thread_id = t->tid;
	for (int w = 0; w + 1 < CGSIM_NATIVE_COUNT && out->nregs < CG_MAX_REGS; w += 2)
		out->regs[out->nregs++] = ms_state_word(t->state, w);
	out->pc = ms_state_word(t->state, PC_WORD);
	out->sp = ms_state_word(t->state, SP_WORD);
	out->fp = ms_state_word(t->state, FP_WORD);
	pthread_mutex_unlock(&mdl.mu);
	return KERN_SUCCESS;
}

void simk_set_mach_layer(int on)
{
	pthread_mutex_lock(&mdl.mu);
	mdl.mach_layer = on;
	pthread_mutex_unlock(&mdl.mu);
}

int simk_record_mach_exception(uint64_t thread_id, int32_t exception, int64_t code,
			       int64_t subcode, const uint64_t *regs, uint32_t nregs, uint64_t pc,
			       uint64_t sp, uint64_t fp, uint64_t lr)
{
	pthread_mutex_lock(&mdl.mu);
	mdl.records++;
	pthread_mutex_unlock(&mdl.mu);
	if (mdl.record == NULL)
		return 0;
	return mdl.record(thread_id, exception, code, subcode, regs, nregs, pc, sp, fp, lr);
}

/* ---- Test API ---- */

void machsim_reset(void *record, void *merge)
{
	pthread_mutex_lock(&mdl.mu);
	memset(mdl.ports, 0, sizeof mdl.ports);
	memset(mdl.names, 0, sizeof mdl.names);
	memset(mdl.msgs, 0, sizeof mdl.msgs);
	memset(mdl.threads, 0, sizeof mdl.threads);
	memset(mdl.tasks, 0, sizeof mdl.tasks);
	memset(mdl.faults, 0, sizeof mdl.faults);
	mdl.record = (int (*)(uint64_t, int32_t, int64_t, int64_t, const uint64_t *, uint32_t,
			    uint64_t, uint64_t, uint64_t, uint64_t))record;
	mdl.merge = (int (*)(uint64_t, int64_t, int, int, uint64_t, uint32_t))merge;
	mdl.records = mdl.server_replies = mdl.died = mdl.inject_fault = mdl.rcv_errors = 0;
	mdl.serving_ended = mdl.prev_count = mdl.nviol = 0;
	mdl.tasks[0].used = 1;
	mdl.tasks[0].port = ms_port_new(K_TASK, 0, RX_KERNEL);
	(void)ms_task_name(0); /* mach_task_self()'s name, one uref */
	ms_t_thread = -1;
	ms_t_task = 0;
	pthread_mutex_unlock(&mdl.mu);
}

int machsim_thread_new(int task, uint64_t tid, uint64_t pc)
{
	pthread_mutex_lock(&mdl.mu);
	int th = thread_slot(task, tid, 0);
	if (th >= 0) {
		for (int w = 0; w < CGSIM_NATIVE_COUNT; w += 2) {
			uint64_t v = 0x1000 + (uint64_t)w;
			memcpy(mdl.threads[th].state + w, &v, 8);
		}
		memcpy(mdl.threads[th].state + PC_WORD, &pc, 8);
	}
	pthread_mutex_unlock(&mdl.mu);
	return th;
}

void machsim_prev_handler(int32_t behavior, int32_t flavor, int mode)
{
	pthread_mutex_lock(&mdl.mu);
	int p = ms_port_new(K_PLAIN, 0, RX_KERNEL);
	mdl.ports[p].prev_handler = 1;
	ms_set_exc(mdl.tasks[0].exc, EXC_MASK_BAD_ACCESS, p, behavior, flavor);
	ms_prev_args.port = p;
	ms_prev_args.mode = mode;
	pthread_mutex_unlock(&mdl.mu);
	pthread_t t;
	pthread_create(&t, NULL, ms_prev_handler_main, &ms_prev_args);
	pthread_detach(t);
}

void machsim_set_hardened(int on)
{
	pthread_mutex_lock(&mdl.mu);
	mdl.tasks[0].hardened = on;
	pthread_mutex_unlock(&mdl.mu);
}

int machsim_fork(int immovable)
{
	pthread_mutex_lock(&mdl.mu);
	int t = -1;
	for (int i = 1; i < NTASKS; i++) {
		if (!mdl.tasks[i].used) {
			t = i;
			break;
		}
	}
	if (t > 0) {
		mdl.tasks[t].used = 1;
		mdl.tasks[t].port = ms_port_new(K_TASK, t, RX_KERNEL);
		/* Another task's ports arrive as read ports, which may be
		 * immovable (xnu ipc_tt.c); both cases are tested. */
		mdl.ports[mdl.tasks[t].port].immovable = immovable;
		mdl.tasks[t].immovable = immovable;
		/* Exception ports survive fork (ipc_tt.c ipc_task_init). */
		memcpy(mdl.tasks[t].exc, mdl.tasks[0].exc, sizeof mdl.tasks[t].exc);
	}
	pthread_mutex_unlock(&mdl.mu);
	return t;
}

static int g_fork_task;
static void *after_fork_main(void *arg)
{
	(void)arg;
	ms_t_task = g_fork_task;
	cg_mach_after_fork_child();
	/* The child's own mach_task_self() name lives in its own space. */
	pthread_mutex_lock(&mdl.mu);
	mach_port_name_t n = ms_name_of_port(mdl.tasks[g_fork_task].port);
	if (n != MACH_PORT_NULL) {
		ms_name_at(n)->send = 0;
		ms_name_gc(n);
	}
	pthread_mutex_unlock(&mdl.mu);
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
	pthread_mutex_lock(&mdl.mu);
	ms_t_thread = f->thread;
	machsim_outcome o;
	ms_triage(f->thread, f->exc, f->code, f->subcode, &o);
	f->out = o;
	f->done = 1;
	pthread_cond_broadcast(&mdl.cv);
	if (o.result == MACHSIM_DIED)
		ms_park_forever();
	pthread_mutex_unlock(&mdl.mu);
	return NULL;
}

int machsim_fault_start(int thread, int32_t exc, int64_t code, int64_t subcode, int sig_action,
			uint32_t sig_flags)
{
	pthread_mutex_lock(&mdl.mu);
	int i;
	for (i = 0; i < NFAULTS && mdl.faults[i].used; i++) {
	}
	if (i == NFAULTS) {
		pthread_mutex_unlock(&mdl.mu);
		return -1;
	}
	sfault *f = &mdl.faults[i];
	memset(f, 0, sizeof *f);
	f->used = 1;
	f->thread = thread;
	f->exc = exc;
	f->code = code;
	f->subcode = subcode;
	mdl.threads[thread].sig_action = sig_action;
	mdl.threads[thread].sig_flags = sig_flags;
	pthread_mutex_unlock(&mdl.mu);
	pthread_t t;
	pthread_create(&t, NULL, fault_main, f);
	pthread_detach(t);
	return i;
}

int machsim_fault_wait(int fault, int timeout_ms, machsim_outcome *out)
{
	struct timespec dl;
	ms_deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&mdl.mu);
	sfault *f = &mdl.faults[fault];
	while (!f->done && ms_wait_until(&dl, timeout_ms)) {
	}
	int done = f->done;
	if (done)
		*out = f->out;
	pthread_mutex_unlock(&mdl.mu);
	return done;
}

void machsim_inject_server_fault(int sig_action, uint32_t sig_flags)
{
	pthread_mutex_lock(&mdl.mu);
	mdl.inject_fault = 1;
	mdl.inject_action = sig_action;
	mdl.inject_flags = sig_flags;
	pthread_mutex_unlock(&mdl.mu);
}

void machsim_inject_receive_errors(int n, int32_t code)
{
	pthread_mutex_lock(&mdl.mu);
	mdl.rcv_errors = n;
	mdl.rcv_error_code = code;
	pthread_mutex_unlock(&mdl.mu);
}

int machsim_wait_death(int timeout_ms)
{
	struct timespec dl;
	ms_deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&mdl.mu);
	while (mdl.died == 0 && ms_wait_until(&dl, timeout_ms)) {
	}
	int d = mdl.died;
	pthread_mutex_unlock(&mdl.mu);
	return d;
}

int machsim_wait_idle(int timeout_ms)
{
	struct timespec dl;
	ms_deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&mdl.mu);
	while (!mdl.serving_idle && !mdl.serving_ended && ms_wait_until(&dl, timeout_ms)) {
	}
	int idle = mdl.serving_idle || mdl.serving_ended;
	pthread_mutex_unlock(&mdl.mu);
	return idle;
}

int machsim_wait_serving_ended(int timeout_ms)
{
	struct timespec dl;
	ms_deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&mdl.mu);
	while (!mdl.serving_ended && ms_wait_until(&dl, timeout_ms)) {
	}
	int e = mdl.serving_ended;
	pthread_mutex_unlock(&mdl.mu);
	return e;
}

int machsim_task_handler(int task)
{
	pthread_mutex_lock(&mdl.mu);
	int p = mdl.tasks[task].exc[EXC_BAD_ACCESS].port, r;
	if (p == 0)
		r = 0;
	else if (mdl.ports[p].dead)
		r = 3;
	else if (mdl.ports[p].prev_handler)
		r = 1;
	else
		r = 2;
	pthread_mutex_unlock(&mdl.mu);
	return r;
}

int64_t machsim_rights(void)
{
	pthread_mutex_lock(&mdl.mu);
	int64_t n = 0;
	for (int i = 0; i < NNAMES; i++)
		if (mdl.names[i].used)
			n += mdl.names[i].recv + mdl.names[i].send + mdl.names[i].sonce + mdl.names[i].dead;
	for (int i = 0; i < NMSGS; i++)
		n += mdl.msgs[i].used;
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

int machsim_records(void)
{
	pthread_mutex_lock(&mdl.mu);
	int n = mdl.records;
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

int machsim_server_replies(void)
{
	pthread_mutex_lock(&mdl.mu);
	int n = mdl.server_replies;
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

int machsim_prev_seen(int32_t *id, int32_t *flavor, uint32_t *state_count, int64_t *code1)
{
	pthread_mutex_lock(&mdl.mu);
	int n = mdl.prev_count;
	*id = mdl.prev_id;
	*flavor = mdl.prev_flavor;
	*state_count = mdl.prev_state_count;
	*code1 = mdl.prev_code1;
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

int machsim_violations(char *buf, int cap)
{
	pthread_mutex_lock(&mdl.mu);
	int n = mdl.nviol, at = 0;
	if (cap > 0)
		buf[0] = 0;
	for (int i = 0; i < n && i < 16 && at < cap - 1; i++)
		at += snprintf(buf + at, (size_t)(cap - at), "%s\n", mdl.viol[i]);
	pthread_mutex_unlock(&mdl.mu);
	return n;
}

int32_t machsim_native_flavor(void) { return CGSIM_NATIVE_FLAVOR; }

uint64_t machsim_thread_pc(int thread)
{
	pthread_mutex_lock(&mdl.mu);
	uint64_t pc = ms_state_word(mdl.threads[thread].state, PC_WORD);
	pthread_mutex_unlock(&mdl.mu);
	return pc;
}

