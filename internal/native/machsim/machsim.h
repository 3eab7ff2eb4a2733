/*
 * machsim.h: the test API of the xnu model (ipc.c, exception.c, api.c), as machsim.go calls
 * it. Every function is safe to call from any thread.
 */
#ifndef MACHSIM_H
#define MACHSIM_H

#include <stdint.h>

/* What the BSD signal handler does with the signal the host level posts. */
enum {
	MACHSIM_SIG_RECOVER = 0, /* Go turns it into a recovered panic: the thread goes on */
	MACHSIM_SIG_FATAL = 1    /* the process dies by it */
};

/* How a displaced (previous) handler answers. */
enum {
	MACHSIM_PREV_SUCCESS = 0,  /* KERN_SUCCESS (state behaviors: pc + 4) */
	MACHSIM_PREV_FAILURE = 1,  /* KERN_FAILURE */
	MACHSIM_PREV_NOREPLY = 2,  /* destroys the reply right unanswered */
	MACHSIM_PREV_HANG = 3,     /* never answers */
	MACHSIM_PREV_BAD_ID = 4,   /* KERN_SUCCESS under a wrong reply id */
	MACHSIM_PREV_BAD_SIZE = 5  /* KERN_SUCCESS with a truncated body */
};

/* How a fault ended. */
enum {
	MACHSIM_PENDING = 0,
	MACHSIM_RESUMED = 1,        /* a handler answered KERN_SUCCESS */
	MACHSIM_SIGNAL_RECOVERED = 2,
	MACHSIM_DIED = 3,           /* the process died of the signal */
	MACHSIM_CHILD_SIGNAL = 4,   /* a foreign task got its own signal */
	MACHSIM_REFAULT = 5         /* the signal was blocked: re-faults forever */
};

typedef struct {
	int32_t result;
	int32_t level;     /* RESUMED: 0 thread port, 1 task port */
	int32_t sig;       /* the signal posted at the host level, 0 if none */
	int32_t merged;    /* the signal hook found the Mach record */
	int32_t rejected;  /* replies the kernel rejected (MIG checks) on the way */
	uint64_t pc;       /* the thread's pc when it resumed */
} machsim_outcome;

/* Fresh model. record: cg_record_mach_exception; merge: the signal
 * handler's merge, cg_test_merge_signal_into_mach (either may be NULL). */
void machsim_reset(void *record, void *merge);
/* A new thread of task (0 = this process) with that system id and pc. */
int machsim_thread_new(int task, uint64_t tid, uint64_t pc);
/* Registers a displaced handler for EXC_BAD_ACCESS on task 0. */
void machsim_prev_handler(int32_t behavior, int32_t flavor, int mode);
/* The hardened-process rule (EXCEPTION_DEFAULT refused with KERN_DENIED). */
void machsim_set_hardened(int on);
/* A child task inheriting task 0's exception ports; returns its index. */
int machsim_fork(int immovable);
/* Runs the server's fork-child handler as task's code would. */
void machsim_after_fork_child(int task);

/* The server (cg_mach_server_darwin.c, renamed). */
int machsim_install(int32_t *kr, const char **what);
int32_t machsim_crash_port_null(int on);
int machsim_serving_ended(void);

/* Faults. */
int machsim_fault_start(int thread, int32_t exc, int64_t code, int64_t subcode, int sig_action,
			uint32_t sig_flags);
/* 1 when done (out filled), 0 on timeout. */
int machsim_fault_wait(int fault, int timeout_ms, machsim_outcome *out);
/* The next time the serving thread fetches a thread's facts, it faults. */
void machsim_inject_server_fault(int sig_action, uint32_t sig_flags);
/* The serving thread's next n receives fail with code. */
void machsim_inject_receive_errors(int n, int32_t code);
/* Waits until the process died (returns the signal) or timeout (0). */
int machsim_wait_death(int timeout_ms);
/* Waits until the serving thread waits for work on an empty port (or has
 * ended); 1, or 0 on timeout. */
int machsim_wait_idle(int timeout_ms);
/* Waits until the serving loop ended; 1 or 0 on timeout. */
int machsim_wait_serving_ended(int timeout_ms);

/* Observations. */
/* 0 none, 1 the displaced handler, 2 another live port (the server's), 3 a
 * dead port. */
int machsim_task_handler(int task);
int64_t machsim_rights(void);       /* rights in our space + in flight */
int machsim_records(void);          /* cg_record_mach_exception calls */
int machsim_server_replies(void);   /* replies the kernel got from the server's ports */
int machsim_prev_seen(int32_t *id, int32_t *flavor, uint32_t *state_count, int64_t *code1);
int machsim_violations(char *buf, int cap); /* count; buf gets them, one a line */
uint64_t machsim_thread_pc(int thread);
int32_t machsim_native_flavor(void);

#endif
