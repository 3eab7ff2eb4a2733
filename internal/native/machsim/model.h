/*
 * model.h: the model's state and the functions its files share (ipc.c,
 * exception.c, api.c). See ipc.c for what is modelled and from where.
 */
#ifndef MACHSIM_MODEL_H
#define MACHSIM_MODEL_H

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
	int used, space, port, recv, send, sonce, dead; /* space: the task whose IPC space */
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

struct ms_model {
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
};


typedef struct {
	int port, mode;
} ms_prev_args_t;

/* The model: one per process, under mu; cv is broadcast on every change. */
extern struct ms_model mdl;
extern __thread int ms_t_thread; /* the sim thread running on this pthread */
extern __thread int ms_t_task;   /* mach_task_self()'s task */
extern ms_prev_args_t ms_prev_args;

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

/* ipc.c */
void ms_violation(const char *what, long long a);
void ms_deadline_in(struct timespec *ts, long ms);
int ms_wait_until(const struct timespec *dl, long ms);
void ms_park_forever(void);
int ms_port_new(int kind, int obj, int rx);
sname *ms_name_at(mach_port_name_t n);
void ms_name_gc(mach_port_name_t n);
mach_port_name_t ms_name_of_port(int port);
mach_port_name_t ms_copyout_right(int port, int type);
void ms_sonce_destroyed(int port);
void ms_msg_destroy(int i);
void ms_enqueue(int port, int i);
int ms_dequeue(int port);
void ms_port_destroy(int port);
int ms_msg_alloc(void);
mach_port_name_t ms_task_name(int task);
/* exception.c */
int ms_thread_of_name(mach_port_name_t n);
void ms_set_exc(sexc *table, exception_mask_t mask, int port, exception_behavior_t behavior,
		thread_state_flavor_t flavor);
uint64_t ms_state_word(const natural_t *s, int w);
void ms_wr32(unsigned char *b, size_t off, uint32_t v);
void ms_triage(int th, int32_t exc, int64_t code, int64_t subcode, machsim_outcome *out);
void *ms_prev_handler_main(void *arg);

#endif /* MACHSIM_MODEL_H */
