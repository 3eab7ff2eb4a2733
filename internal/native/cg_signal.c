//go:build cgo && (linux || darwin)

/*
 * cg_signal.c: the unix signal chain.
 *
 * Installed from Go after the runtime has installed its own handlers. For
 * every hooked signal the handler:
 *   1. records the fault (cheaply for a fault in Go code, with a native
 *      frame walk otherwise),
 *   2. when suppression is on and the fault is known fatal on a thread Go
 *      did not create, _exits with 128+sig (no core, no Crash Reporter),
 *   3. otherwise calls the handler it replaced (Go's) with the same
 *      (sig, info, ctx), exactly as os/signal's doc asks of C code: Go turns
 *      a fault in Go code into a panic by editing ctx, and the kernel
 *      resumes from ctx when we return.
 *
 * Only async-signal-safe calls: sigaction, sigaltstack, pthread_sigmask,
 * raise, _exit, clock_gettime, and the recorder (atomics and plain stores).
 */
#define _GNU_SOURCE
#include "cg_signal.h"

#include "cg_recorder.h"
#include "cg_regs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static const int cg_sigs[CG_NSIG] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS};

/* ---- Globals ----
 * The signal chain's state, in one place (the Linux re-entrancy guard is
 * per thread: cg_tls_in_handler, below). */

#if defined(__APPLE__)
#define CG_GUARD_SLOTS 64
#endif

static struct {
    /* The replaced sigactions. Written before our handler is installed for
     * the slot and never changed while it may run. */
    struct sigaction old[CG_NSIG];
    /* Our handler may run for slot i (and old[i] is valid). Never cleared:
     * a handler already running may still chain after an uninstall. */
    _Atomic int slot_installed[CG_NSIG];
    /* Our handler is still reachable for slot i: installed, or left in
     * place under a handler someone installed after ours (which may chain
     * to it). */
    _Atomic int slot_in_chain[CG_NSIG];
    /* cg_signals_install ran and no uninstall since. */
    _Atomic int installed;
    /* The fork handler is registered (once per process). */
    _Atomic int atfork_registered;
    /* cg_set_chain_info: bit i when slot i chains to Go's handler; library
     * (c-shared/c-archive) disarms the "known fatal" rule. */
    _Atomic uint32_t chains_to_go;
    _Atomic int library;
    /* cg_set_suppress_mode. */
    _Atomic int suppress;
    /* darwin: the Mach exception layer is installed and serving. */
    _Atomic int mach_layer;
#if defined(__APPLE__)
    /* The re-entrancy guard's table of thread ids in the handler. */
    _Atomic uint64_t guard[CG_GUARD_SLOTS];
#endif
} g_state;

int cg_signal_number(int slot) { return slot >= 0 && slot < CG_NSIG ? cg_sigs[slot] : 0; }

static int slot_of(int sig) {
    for (int i = 0; i < CG_NSIG; i++)
        if (cg_sigs[i] == sig)
            return i;
    return -1;
}

void cg_set_chain_info(uint32_t mask, int library) {
    atomic_store(&g_state.chains_to_go, mask);
    atomic_store(&g_state.library, library != 0);
}

void cg_set_suppress_mode(int mode) { atomic_store(&g_state.suppress, mode); }

void cg_set_mach_layer(int on) { atomic_store(&g_state.mach_layer, on != 0); }

int cg_suppress_mode(void) { return atomic_load(&g_state.suppress); }

/* Go gives every thread it creates (and every C thread while it runs Go
 * code) an alternate signal stack; threads created in C normally have none.
 * If the query fails, say "Go thread": the conservative answer. */
static int has_altstack(void) {
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0)
        return 1;
    return (ss.ss_flags & SS_DISABLE) == 0;
}

/* ---- Re-entrancy guard ----
 * A fault inside our own recording code must end the process, never loop.
 * Linux: the hooked signals are blocked while the handler runs (sa_mask), so
 * the kernel kills the process on such a fault by itself (a synchronous
 * signal that is blocked is forced to SIG_DFL). darwin: a blocked synchronous
 * signal would instead be left pending while the instruction re-faults
 * forever (xnu threadsignal only marks it pending), so there the handler runs
 * with them unblocked (SA_NODEFER) and the guard catches the re-entry.
 * Either way the guard also covers any other way back in (a signal unblocked
 * by code we call). On re-entry: SIG_DFL, unblock, raise. */
#if defined(__APPLE__)
/* darwin's __thread is lazily allocated (dyld's tlv_get_addr mallocs a
 * thread's block on its first access: not async-signal-safe): a table of
 * thread ids currently in the handler instead (g_state.guard). */
static int guard_enter(uint64_t tid, int *slot) {
    *slot = -1;
    for (int i = 0; i < CG_GUARD_SLOTS; i++)
        if (atomic_load(&g_state.guard[i]) == tid)
            return 0;
    for (int i = 0; i < CG_GUARD_SLOTS; i++) {
        uint64_t empty = 0;
        if (atomic_compare_exchange_strong(&g_state.guard[i], &empty, tid)) {
            *slot = i;
            return 1;
        }
    }
    return 1; /* table full: run unguarded rather than not at all */
}

static void guard_leave(int slot) {
    if (slot >= 0)
        atomic_store(&g_state.guard[slot], 0);
}
#else
static __thread volatile int cg_tls_in_handler __attribute__((tls_model("initial-exec")));

static int guard_enter(uint64_t tid, int *slot) {
    (void)tid;
    *slot = 0;
    if (cg_tls_in_handler)
        return 0;
    cg_tls_in_handler = 1;
    atomic_signal_fence(memory_order_seq_cst);
    return 1;
}

static void guard_leave(int slot) {
    (void)slot;
    atomic_signal_fence(memory_order_seq_cst);
    cg_tls_in_handler = 0;
}
#endif

static void set_default(int sig) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/* Ends the process by sig's default action (core dump), from anywhere. */
static void die_by(int sig) {
    set_default(sig);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached: every hooked signal's default is fatal */
}

/* ---- Recording ---- */

int cg_merge_into_mach(cg_recorder *rec, uint64_t thread_id, int64_t now_ns, int sig, int code,
                       uint64_t addr, uint32_t flags) {
    /* The Mach thread recorded the exception and replied KERN_FAILURE just
     * before the kernel raised this signal on the same thread. */
    cg_record *r = cg_record_find_mach(rec, thread_id, now_ns, 5000000000LL);
    if (r == NULL)
        return 0;
    r->signo = sig;
    r->code = code;
    r->addr = addr;
    /* GO_CODE comes from the Mach record's pc; the rest is ours. */
    r->flags |= flags & ~CG_FLAG_GO_CODE;
    cg_record_complete(r);
    return 1;
}

/* The record flags of a fault, and whether to suppress (exit) rather than
 * chain; from_user says the signal was sent, not raised by the CPU. */
static uint32_t fault_flags(int slot, int sig, int code, siginfo_t *info, int go_code,
                            int go_thread, int from_user, int *suppress) {
    uint32_t flags = CG_FLAG_FROM_SIGNAL;
    if (go_code)
        flags |= CG_FLAG_GO_CODE;
    if (go_thread)
        flags |= CG_FLAG_GO_THREAD;
    if (from_user)
        flags |= CG_FLAG_FROM_USER;
    int armed = !atomic_load_explicit(&g_state.library, memory_order_relaxed) &&
                (atomic_load_explicit(&g_state.chains_to_go, memory_order_relaxed) >> slot & 1);
    /* SI_USER is "sent" on both systems (0 on Linux, 0x10001 on darwin). */
    int fatal = cg_known_fatal(sig, from_user ? SI_USER : code, cg_raised_by_self(sig, info),
                               go_code, armed);
    if (fatal)
        flags |= CG_FLAG_FATAL;
    *suppress = fatal && !go_thread && atomic_load(&g_state.suppress) == 1;
    if (*suppress)
        flags |= CG_FLAG_SUPPRESSED_EXIT;
    return flags;
}

/* Records the fault; returns the exit status to _exit with (suppression),
 * or 0 to chain. */
static int on_fault(int slot, int sig, siginfo_t *info, void *uctx, int64_t t0) {
    cg_ctx c;
    cg_ctx_basic(uctx, &c);
    int code = info != NULL ? info->si_code : 0;
    int from_user = cg_code_from_user(code);
    uint64_t fault_addr = info != NULL ? (uint64_t)(uintptr_t)info->si_addr : 0;

    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();

    int go_code = rec != NULL && cg_pc_in_go_text(rec, c.pc);
    /* Go code runs only on threads Go set up: skip the syscall. */
    int go_thread = go_code || has_altstack();
    int suppress;
    uint32_t flags = fault_flags(slot, sig, code, info, go_code, go_thread, from_user, &suppress);

    if (rec != NULL) {
        uint64_t tid = cg_thread_id();
        int merged = 0;
#if defined(__APPLE__)
        /* A CPU fault went through the Mach thread first (EXC_BAD_ACCESS
         * answered KERN_FAILURE becomes this signal, xnu ux_handler.c):
         * complete its record instead of writing a second one. No record
         * to complete means the signal was sent (cg_darwin_cpu_fault). */
        if (!from_user)
            merged = cg_merge_into_mach(rec, tid, t0, sig, code, fault_addr, flags);
        if (!merged && !from_user &&
            !cg_darwin_cpu_fault(sig, atomic_load(&g_state.mach_layer), merged)) {
            from_user = 1;
            flags = fault_flags(slot, sig, code, info, go_code, go_thread, 1, &suppress);
        }
#endif
        cg_record *r = merged ? NULL : cg_record_claim(rec);
        if (r != NULL) {
            r->time_ns = t0;
            r->thread_id = tid;
            r->signo = sig;
            r->code = code;
            /* si_addr is meaningful for CPU faults only; for a sent
             * signal the union holds si_pid/si_uid instead (darwin: a
             * stale fault address). */
            r->addr = !from_user ? fault_addr : 0;
            r->pc = c.pc;
            r->sp = c.sp;
            if (from_user && info != NULL)
                r->sender_pid = info->si_pid;
            r->nregs = cg_ctx_regs(uctx, r->regs);
            flags |= cg_record_frames(r, go_code, c.pc, c.sp, c.fp, c.lr);
            r->flags = flags;
            r->handler_ns = cg_since_ns(t0);
            cg_record_complete(r);
        }
    }
    cg_writer_leave();
    return suppress ? 128 + sig : 0;
}

/* ---- Chaining ---- */

static void chain(int slot, int sig, siginfo_t *info, void *uctx) {
    const struct sigaction *old = &g_state.old[slot];
    int siginfo = (old->sa_flags & SA_SIGINFO) != 0;
    void (*h)(int) = old->sa_handler;
    int code = info != NULL ? info->si_code : 0;
    if (!siginfo || h == SIG_DFL || h == SIG_IGN) {
        if (h == SIG_IGN) {
            /* Ignoring a sent signal is a no-op; a CPU fault cannot be
             * ignored (the kernel forces the default action). */
            if (!cg_cpu_fault(sig, code))
                return;
            h = SIG_DFL;
        }
        if (h == SIG_DFL) {
            set_default(sig);
            /* A faulting instruction re-executes when we return and dies by
             * the default action with its own context and si_code; traps
             * (SIGTRAP, seccomp's SIGSYS, raised signals) do not: re-raise.
             * The signal is blocked here, so it is delivered on return. */
            int refaults = cg_cpu_fault(sig, code) &&
                           (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
            if (!refaults)
                raise(sig);
            return;
        }
    }
#if defined(__APPLE__)
    /* Give the old handler the mask the kernel would have given it; ours
     * left the fault signals unblocked (see the guard). sigreturn restores
     * the interrupted mask afterwards. */
    sigset_t m = old->sa_mask;
    if ((old->sa_flags & SA_NODEFER) == 0)
        sigaddset(&m, sig);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
#endif
    if (siginfo)
        old->sa_sigaction(sig, info, uctx);
    else
        h(sig);
}

static void cg_handler(int sig, siginfo_t *info, void *uctx) {
    int saved_errno = errno;
    int64_t t0 = cg_now_ns();
    int slot = slot_of(sig);
    int guard_slot;
    if (!guard_enter(cg_thread_id(), &guard_slot))
        die_by(sig);
    /* g_state.slot_installed is never cleared: read once. */
    int ours =
        slot >= 0 && atomic_load_explicit(&g_state.slot_installed[slot], memory_order_acquire);
    int exit_status = ours ? on_fault(slot, sig, info, uctx, t0) : 0;
    guard_leave(guard_slot);

    if (exit_status != 0)
        _exit(exit_status);
    if (ours)
        chain(slot, sig, info, uctx);
    else
        die_by(sig); /* cannot happen: no slot means no saved handler */
    errno = saved_errno;
}

static void after_fork_child(void) {
    /* A fork child shares the recorder file: never write the parent's
     * records from it. The chain stays (Go's handler still runs). */
    cg_recorder_disable();
    cg_os_after_fork_child();
    cg_set_self_pid((int)getpid());
}

static int is_ours(const struct sigaction *sa) {
    return (sa->sa_flags & SA_SIGINFO) != 0 && sa->sa_sigaction == cg_handler;
}

int cg_signals_install(uint64_t *prev) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_state.installed, &expected, 1))
        return EALREADY;
    cg_os_init();
    cg_set_self_pid((int)getpid());
    int unregistered = 0;
    if (atomic_compare_exchange_strong(&g_state.atfork_registered, &unregistered, 1))
        pthread_atfork(NULL, NULL, after_fork_child);

    for (int i = 0; i < CG_NSIG; i++) {
        struct sigaction old;
        if (sigaction(cg_sigs[i], NULL, &old) != 0)
            goto fail;
        if (atomic_load(&g_state.slot_in_chain[i]) || is_ours(&old)) {
            /* An earlier uninstall left ours in place under another
             * handler. Installing again on top would make the chain a loop
             * (ours -> theirs -> ours -> ...): keep the chain as it is. */
            atomic_store(&g_state.slot_in_chain[i], 1);
            prev[i] = (uint64_t)(uintptr_t)g_state.old[i].sa_handler;
            continue;
        }
        g_state.old[i] = old;
        prev[i] = (uint64_t)(uintptr_t)old.sa_handler;

        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = cg_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        /* Keep the replaced handler's mask (Go's blocks everything while it
         * runs); see the guard for darwin's exception. */
        sa.sa_mask = old.sa_mask;
#if defined(__APPLE__)
        /* The CPU fault signals stay unblocked (see the guard); SIGABRT is
         * sent (abort is pthread_kill on darwin), never re-executed, so it
         * can wait blocked as on Linux. */
        sa.sa_flags |= SA_NODEFER;
        for (int j = 0; j < CG_NSIG; j++)
            if (cg_sigs[j] != SIGABRT)
                sigdelset(&sa.sa_mask, cg_sigs[j]);
#else
        for (int j = 0; j < CG_NSIG; j++)
            sigaddset(&sa.sa_mask, cg_sigs[j]);
#endif
        atomic_store_explicit(&g_state.slot_installed[i], 1, memory_order_release);
        if (sigaction(cg_sigs[i], &sa, NULL) != 0)
            goto fail;
        atomic_store(&g_state.slot_in_chain[i], 1);
    }
    return 0;
fail:;
    int e = errno ? errno : EINVAL;
    cg_signals_uninstall();
    return e;
}

int cg_signals_uninstall(void) {
    for (int i = 0; i < CG_NSIG; i++) {
        if (!atomic_load(&g_state.slot_in_chain[i]))
            continue;
        struct sigaction cur;
        if (sigaction(cg_sigs[i], NULL, &cur) == 0 && is_ours(&cur) &&
            sigaction(cg_sigs[i], &g_state.old[i], NULL) == 0) {
            /* g_state.old[i] stays valid: a handler already running may
             * still chain through it. */
            atomic_store(&g_state.slot_in_chain[i], 0);
        }
        /* Otherwise someone installed a handler after ours and may chain to
         * it: leave ours (and its saved chain) in place. */
    }
    atomic_store(&g_state.installed, 0);
    return 0;
}
