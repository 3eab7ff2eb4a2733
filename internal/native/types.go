package native

import (
	"errors"
	"syscall"
)

// SuppressMode says what the handler does with a fault it knows is fatal on
// a thread Go did not create.
type SuppressMode int

const (
	// SuppressOff: chain to the previous handler; the process dies by the
	// signal (core file / Crash Reporter as the OS is configured).
	SuppressOff SuppressMode = 0
	// SuppressExit: complete the record (flag suppressed_exit), then
	// _exit(128+sig): no core dump, no Crash Reporter report.
	SuppressExit SuppressMode = 1
)

// Options configures Install. The zero value is the default.
type Options struct {
	// SuppressMode is the initial suppression mode (SetSuppressMode changes
	// it later).
	SuppressMode SuppressMode
	// DisableMach skips the Mach exception layer (darwin).
	DisableMach bool
	// Logf receives a line for each notable install outcome (a layer that
	// could not be installed, a replaced handler that is not Go's). Nil
	// discards them.
	Logf func(format string, args ...any)
}

// Layers reports what Install set up.
type Layers struct {
	// SignalChain is true when the signal handlers are installed.
	SignalChain bool
	// Signals are the hooked signals.
	Signals []syscall.Signal
	// PrevHandlers names the handler replaced for each signal: a Go function
	// name ("runtime.cgoSigtramp"), "SIG_DFL", "SIG_IGN" or an address.
	PrevHandlers map[syscall.Signal]string
	// ChainsToGo is true when every replaced handler was the Go runtime's;
	// only then does the handler mark records fatal for all signals.
	ChainsToGo bool
	// LibraryMode is true for c-shared / c-archive builds: records are
	// never marked fatal and suppression never applies.
	LibraryMode bool
	// Mach is true when the Mach exception thread is installed (darwin);
	// MachErr says why not when it was tried and failed.
	Mach    bool
	MachErr error
	// Translated is true when the process runs under Rosetta 2 (a darwin
	// amd64 binary on Apple silicon, sysctl.proc_translated): its Mach
	// thread states are read despite thread_get_state's 0x10000003.
	Translated bool
	// Recorder is the flight recorder path; Images how many loaded images
	// were written into it (of ImageCapacity slots).
	Recorder      string
	Images        int
	ImageCapacity int
	// GoTextStart and GoTextEnd bound the executable's Go text at runtime.
	GoTextStart, GoTextEnd uintptr
	// SuppressMode is the mode Install set.
	SuppressMode SuppressMode
}

var (
	// ErrUnavailable is returned by Install in builds without the native
	// layer (no cgo, or not linux/darwin).
	ErrUnavailable = errors.New("native: not available in this build (needs cgo on linux or darwin)")
	// ErrInstalled is returned by a second Install.
	ErrInstalled = errors.New("native: already installed")
)
