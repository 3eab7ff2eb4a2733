/*
 * cg_signal.h: the unix signal chain (cg_signal.c), as called from Go.
 */
#ifndef CG_SIGNAL_H
#define CG_SIGNAL_H

#include <signal.h>
#include <stdint.h>

/* The hooked signals, in slot order: SIGSEGV SIGBUS SIGILL SIGFPE SIGTRAP
 * SIGABRT SIGSYS. Never SIGPROF, SIGURG (Go's preemption) or anything Go
 * uses for its own purposes. */
#define CG_NSIG 7
int cg_signal_number(int slot);

/* Installs the handler for every hooked signal, saving the previous
 * sigaction (Go's) for the chain. prev[i] receives the previous handler's
 * address for slot i (0 for SIG_DFL, 1 for SIG_IGN). Returns 0 or an errno
 * value; on error nothing stays installed. EALREADY if installed. */
int cg_signals_install(uint64_t *prev);
/* Restores the previous handlers where ours is still the installed one.
 * Safe while faults are being handled (the saved sigactions stay valid). */
int cg_signals_uninstall(void);

/* Arms the "known fatal" rule: bit i set when slot i's previous handler is
 * the Go runtime's; library != 0 disarms it entirely (c-shared/c-archive:
 * the host may handle faults). */
void cg_set_chain_info(uint32_t chains_to_go_mask, int library);

/* Suppression: 0 off, 1 exit (_exit(128+sig) instead of chaining, for a
 * fault the handler knows is fatal on a thread Go did not create). */
void cg_set_suppress_mode(int mode);
int cg_suppress_mode(void);

/* ---- cg_fatal.c ---- */
/* The "known fatal" decision (pure; exposed for tests). */
int cg_known_fatal(int sig, int code, int raised_by_self, int go_code, int armed);
/* 1 if si_code says the signal was sent (kill, tgkill, sigqueue, ...), not
 * raised by the CPU. */
int cg_code_from_user(int code);
/* darwin: 0 when sig is known to be sent rather than a CPU fault, given
 * whether the Mach layer serves and whether the signal completed a Mach
 * record (pure; exposed for tests). */
int cg_darwin_cpu_fault(int sig, int mach_layer, int merged);
/* Tells the signal handler the Mach layer is installed (darwin). */
void cg_set_mach_layer(int on);
/* 1 for a synchronous signal raised by the CPU for the instruction at pc. */
int cg_cpu_fault(int sig, int code);
/* 1 for a SIGABRT this process raised (abort(), raise()). */
int cg_raised_by_self(int sig, const siginfo_t *info);
/* The pid cg_raised_by_self compares with (set at install, after fork). */
void cg_set_self_pid(int pid);

/* Completes the Mach record of the same fault with the signal's facts, for
 * a writer inside rec (cg_writer_enter): the darwin path of the handler,
 * compiled everywhere so that the Linux tests run it. Returns 1 if a record
 * was found. */
struct cg_recorder;
int cg_merge_into_mach(struct cg_recorder *rec, uint64_t thread_id, int64_t now_ns, int sig,
                       int code, uint64_t addr, uint32_t flags);

#endif
