// Package native is crashguard's native layer: a C core, reached through
// cgo, that records hardware faults and fatal signals into the flight
// recorder (package flightrec) at the moment they happen, and chains to the
// Go runtime's handlers so that Go behaves exactly as without it.
//
// It builds everywhere. With cgo on linux or darwin it is the real thing;
// elsewhere (CGO_ENABLED=0, windows, ...) Available reports false and
// Install returns ErrUnavailable: crashguard then relies on the Go crash
// output alone.
//
// # Go API
//
//   - Available reports whether this build has the native layer.
//   - Install(path, opts) maps the recorder file (created beforehand with
//     flightrec.Create), records the loaded images, installs the signal
//     chain (and on darwin the Mach exception thread) and returns the
//     Layers that are active. Once per process.
//   - SetSuppressMode switches OS crash dump suppression (SuppressExit) on
//     and off at any time.
//   - RefreshImages adds images loaded since Install (Linux; darwin tracks
//     them itself).
//   - Uninstall restores the previous handlers and unmaps the recorder
//     (tests and benchmarks; crashguard keeps the layer for the life of the
//     process).
//
// # The signal chain
//
// Install runs after the Go runtime has installed its handlers, and replaces
// them for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT and SIGSYS
// (never SIGPROF, SIGURG or Go's other signals) with one handler installed
// SA_SIGINFO|SA_ONSTACK|SA_RESTART, keeping the mask of the handler it
// replaced. The handler records the fault and calls the replaced handler
// with the same arguments (os/signal's contract for C code); for SIG_DFL it
// restores the default and lets the fault happen again (or re-raises), for
// SIG_IGN it does what the kernel would. Go's nil-pointer panics,
// debug.SetPanicOnFault, signal.Notify and profiling work as before.
//
// Cost: a fault whose pc is in the Go text (the executable's Go code, see
// goText) is often a nil dereference the program recovers from. It takes the
// cheap path: no system call, registers and pc only, no frame walk. Faults
// anywhere else (C code, non-Go threads) get the full record: the
// sigaltstack query and a frame-pointer walk through reads that cannot
// fault.
//
// # Known fatal, and suppression
//
// A record is marked fatal (flightrec.FlagFatal) only when the handler can
// prove the process is about to die: the replaced handler is the Go
// runtime's, the program is an executable (not a c-shared/c-archive library
// whose host may handle faults), the pc is not in Go code, and the signal is
// a CPU fault other than SIGSYS (Go throws "signal arrived during cgo
// execution" on a Go thread and re-raises with SIG_DFL on any other), or a
// SIGABRT this process raised (abort never returns). A record without the
// flag may still have been fatal: the collector decides from the other
// evidence. The rule assumes no handler was installed before the Go runtime
// started (an LD_PRELOAD library or a C constructor could do that).
//
// With SuppressExit, a fault that is known fatal on a thread Go did not
// create (no alternate signal stack: Go gives one to every thread it runs
// on) ends the process with _exit(128+sig) once its record is complete,
// instead of dying by the signal: no core file, no Crash Reporter report.
// Go-created threads are left alone: Go exits them with status 2 itself
// (no dump), and a fault there may be Go's to handle.
//
// # Re-entrancy
//
// A fault inside the handler ends the process: on Linux the hooked signals
// are blocked while it runs, so the kernel forces the default action; on
// darwin (where a blocked synchronous signal would re-fault forever) they
// are left unblocked and a per-thread guard sees the re-entry, restores
// SIG_DFL and re-raises. It never loops and never waits.
//
// # What runs where
//
// Linux amd64/arm64 is built and tested for real. The darwin files
// (cg_os_darwin.c, cg_regs_darwin_*.c, install_darwin.go) are compiled and
// linked with the zig cross toolchain (.ci/darwin-build.sh) but never run
// here. The Mach exception server (cg_mach_server_darwin.c, mach_darwin.go)
// calls the kernel only through cg_mach_kernel.h, so the same source also
// runs on Linux against a model of xnu's exception delivery
// (internal/native/machsim, imported only by the TestMachSim* tests, never
// linked into a program); cg_mach_darwin.c holds the few darwin-only
// helpers the model stands in for (thread state, thread creation, sysctl).
//
// The tests' entry points into the C core (layout table, walks over fake
// stacks, hand-written records, the handler-fault and foreign-handler
// hooks, the CFI test code) live in internal/native/nativetest, which only
// this package's tests import: a program that uses crashguard links none
// of them, and the signal handler holds no test branch.
package native
