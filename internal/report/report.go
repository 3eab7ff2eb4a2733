// Package report holds the crash report model: what crashguard knows about one
// dead run, merged from the Go crash output and the native fault records.
//
// A Report is the unit the outbox stores and the sender delivers. It is plain
// data with a stable JSON form (FormatVersion), so a report written by one
// version of crashguard can be read and sent by the next.
package report

import "time"

// FormatVersion is the version of the JSON form of Report. A reader rejects
// (quarantines) a report whose version it does not know.
const FormatVersion = 1

// Kind says how the process died.
type Kind string

// The kinds of death crashguard reports.
const (
	// KindPanic is an unrecovered Go panic.
	KindPanic Kind = "panic"
	// KindFatalError is a Go runtime fatal error (concurrent map writes,
	// deadlock, out of memory, stack overflow, ...): a throw, not a panic.
	KindFatalError Kind = "fatal_error"
	// KindFault is a hardware fault (SIGSEGV, SIGBUS, ...) the runtime could
	// not turn into a panic, or a fatal signal in native code.
	KindFault Kind = "fault"
)

// Report is one crash of one process.
type Report struct {
	// FormatVersion is FormatVersion at the time of writing.
	FormatVersion int `json:"format_version"`
	// EventID is the Sentry event id (32 lowercase hex digits), fixed when the
	// report is made so that a resend is deduplicated by Sentry.
	EventID string `json:"event_id"`
	// RunID names the run (per-process files) this report was collected from.
	RunID string `json:"run_id"`

	Kind Kind `json:"kind"`
	// Message is the panic value or fatal error text, e.g.
	// "runtime error: invalid memory address or nil pointer dereference".
	Message string `json:"message"`
	// MessageInferred is true when Message was not printed by the runtime but
	// inferred from other evidence (golang/go#76859); InferredFrom says from what.
	MessageInferred bool   `json:"message_inferred,omitempty"`
	InferredFrom    string `json:"inferred_from,omitempty"`
	// Panics is the chain of panics the runtime printed, oldest first: a
	// panic in a deferred call run by an earlier panic adds to the chain
	// instead of replacing it. Empty when nothing was printed (a throw, a
	// fault, or a panic line the crash output lost); one entry for a plain
	// panic, whose Value is then Message. For a fatal error raised while a
	// panic was unwinding ("panic: ..." then "\tfatal error: ..."), Kind is
	// KindFatalError and Panics is the chain the throw interrupted.
	Panics []Panic `json:"panics,omitempty"`

	// Signal is the "[signal SIGSEGV: ...]" line of the crash output, if any.
	Signal *Signal `json:"signal,omitempty"`
	// Goroutines are all goroutines the runtime printed, in printed order.
	Goroutines []Goroutine `json:"goroutines,omitempty"`
	// CrashedGoroutine is the id of the goroutine that crashed, 0 if unknown
	// (e.g. a fault on a thread Go did not create).
	CrashedGoroutine int64 `json:"crashed_goroutine,omitempty"`

	// Native is the fault record from the flight recorder, if one matched.
	Native *NativeFault `json:"native,omitempty"`
	// Images are the loaded images (executable, shared libraries) at the time
	// of the crash, for symbolication.
	Images []Image `json:"images,omitempty"`
	// OSReportSuppressed is true when crashguard ended the process itself so
	// that the OS wrote no crash dump / Crash Reporter report.
	OSReportSuppressed bool `json:"os_report_suppressed,omitempty"`

	Process Process `json:"process"`
	// CrashOutput is the raw Go crash output, sent as an attachment.
	CrashOutput string `json:"crash_output,omitempty"`
	// CrashOutputTruncated is true when the crash output was larger than the
	// collector's cap and only its head was kept.
	CrashOutputTruncated bool `json:"crash_output_truncated,omitempty"`

	// Scope is the last snapshot of the sentry-go global hub's scope taken
	// in the crashing process (internal/scopesnap), nil when there was none.
	Scope *Scope `json:"scope,omitempty"`
	// Runtime is what the crashing process recorded about its Go runtime:
	// the settings at Install and the last runtime/metrics sample.
	Runtime *Runtime `json:"runtime,omitempty"`
}

// Scope is a snapshot of the sentry-go scope, as sentry-go's
// Scope.ApplyToEvent would have applied it to an event at Taken.
type Scope struct {
	// Taken is when the scope was last read and found as here: the snapshot
	// is at most CrashTime - Taken old.
	Taken time.Time `json:"taken"`
	// Written is when this content was first written (Taken or earlier).
	Written     time.Time                 `json:"written"`
	User        *User                     `json:"user,omitempty"`
	Tags        map[string]string         `json:"tags,omitempty"`
	Contexts    map[string]map[string]any `json:"contexts,omitempty"`
	Level       string                    `json:"level,omitempty"`
	Fingerprint []string                  `json:"fingerprint,omitempty"`
	// Breadcrumbs, oldest first: those of the snapshot merged with the
	// exact ones of the BeforeBreadcrumb ring, at most MaxBreadcrumbs.
	Breadcrumbs []Breadcrumb `json:"breadcrumbs,omitempty"`
	// RingBreadcrumbs counts the breadcrumbs that came from the ring
	// (recorded as they were added, not up to a second late).
	RingBreadcrumbs int `json:"ring_breadcrumbs,omitempty"`
	// BreadcrumbsDropped counts the oldest breadcrumbs left out so that
	// the snapshot fit its slot.
	BreadcrumbsDropped int `json:"breadcrumbs_dropped,omitempty"`
	// MaxBreadcrumbs is the program's sentry-go MaxBreadcrumbs (0: default).
	MaxBreadcrumbs int `json:"max_breadcrumbs,omitempty"`
	// SendDefaultPII is the program's sentry-go option at the snapshot.
	SendDefaultPII bool `json:"send_default_pii,omitempty"`
	// Seq numbers the snapshots the process wrote (1 for the first).
	Seq uint64 `json:"seq"`
}

// User is sentry-go's User.
type User struct {
	ID        string            `json:"id,omitempty"`
	Email     string            `json:"email,omitempty"`
	IPAddress string            `json:"ip_address,omitempty"`
	Username  string            `json:"username,omitempty"`
	Name      string            `json:"name,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
}

// Breadcrumb is sentry-go's Breadcrumb.
type Breadcrumb struct {
	Timestamp time.Time      `json:"timestamp"`
	Type      string         `json:"type,omitempty"`
	Category  string         `json:"category,omitempty"`
	Message   string         `json:"message,omitempty"`
	Level     string         `json:"level,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// Runtime is what the crashing process recorded about its Go runtime.
type Runtime struct {
	// Settings are the values fixed at Install.
	Settings *RuntimeSettings `json:"settings,omitempty"`
	// Sample is the last runtime/metrics sample, nil when none was taken.
	Sample *RuntimeSample `json:"sample,omitempty"`
}

// RuntimeSettings are the Go runtime's settings at Install.
type RuntimeSettings struct {
	GOMAXPROCS int `json:"gomaxprocs"`
	NumCPU     int `json:"num_cpu"`
	// GOMEMLIMIT in bytes; math.MaxInt64 when there is none.
	GOMEMLIMIT int64 `json:"gomemlimit"`
	// GOGC in percent; -1 for off.
	GOGC int `json:"gogc"`
	// GODEBUG is the environment variable; DefaultGODEBUG what the build
	// set (go.mod's go line and //go:debug directives).
	GODEBUG        string `json:"godebug,omitempty"`
	DefaultGODEBUG string `json:"default_godebug,omitempty"`
	// BuildSettings are the executable's build settings (-tags,
	// CGO_ENABLED, GOAMD64, -trimpath, ...), without the vcs ones, which
	// Process.Build has.
	BuildSettings map[string]string `json:"build_settings,omitempty"`
	// Cgroup is the process's cgroup limits, nil when not in a cgroup
	// with limits this package can read (Linux only).
	Cgroup *Cgroup `json:"cgroup,omitempty"`
}

// Cgroup holds the limits of the cgroup the process ran in.
type Cgroup struct {
	Version int    `json:"version"` // 1 or 2
	Path    string `json:"path,omitempty"`
	// MemoryMax is memory.max (v2) or memory.limit_in_bytes (v1) in bytes;
	// 0 for no limit. MemoryHigh is v2's memory.high, 0 for none.
	MemoryMax  int64 `json:"memory_max,omitempty"`
	MemoryHigh int64 `json:"memory_high,omitempty"`
	// CPUQuota is the CPU limit in cores (cpu.max quota/period); 0 for none.
	CPUQuota float64 `json:"cpu_quota,omitempty"`
}

// RuntimeSample is one runtime/metrics sample.
type RuntimeSample struct {
	Taken time.Time `json:"taken"`
	// HeapInUse is the memory occupied by live and not yet swept heap
	// objects (/memory/classes/heap/objects:bytes).
	HeapInUse uint64 `json:"heap_in_use"`
	// HeapGoal is the heap size the GC aims for (/gc/heap/goal:bytes).
	HeapGoal uint64 `json:"heap_goal,omitempty"`
	// TotalMemory is all memory the runtime mapped (/memory/classes/total:bytes).
	TotalMemory uint64 `json:"total_memory,omitempty"`
	Goroutines  uint64 `json:"goroutines"`
	GCCycles    uint64 `json:"gc_cycles"`
	// LastGC is when the last GC cycle ended, zero before the first.
	LastGC     time.Time `json:"last_gc,omitzero"`
	GOMAXPROCS int       `json:"gomaxprocs,omitempty"`
}

// Panic is one "panic:" line of a panic chain, as runtime.printpanics prints
// it.
type Panic struct {
	// Value is the panic value as printed, without the " [recovered]"
	// annotation, with the tab the runtime puts after each newline of a
	// multi-line value removed.
	Value string `json:"value"`
	// Recovered is true for " [recovered]": the panic was recovered, and a
	// later one (the next in the chain) killed the process.
	Recovered bool `json:"recovered,omitempty"`
	// Repanicked is true for " [recovered, repanicked]" (Go 1.25+): the
	// value was recovered and panicked again, so the runtime prints it once.
	Repanicked bool `json:"repanicked,omitempty"`
}

// Signal is the signal line of a Go traceback:
// "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2f1c]".
type Signal struct {
	Name        string `json:"name"`             // "SIGSEGV"
	Number      int    `json:"number,omitempty"` // 11 on Linux; 0 when unknown
	Description string `json:"description"`      // "segmentation violation"
	Code        uint64 `json:"code"`
	Addr        uint64 `json:"addr"`
	PC          uint64 `json:"pc"`
}

// Goroutine is one goroutine of the traceback.
type Goroutine struct {
	ID    int64  `json:"id"`
	State string `json:"state"` // "running", "chan receive", ...
	// WaitMinutes is the "N minutes" part of the header, 0 if absent.
	WaitMinutes int  `json:"wait_minutes,omitempty"`
	Locked      bool `json:"locked,omitempty"` // "locked to thread"
	// Crashed is true for the goroutine that panicked or faulted.
	Crashed bool    `json:"crashed,omitempty"`
	Frames  []Frame `json:"frames"` // innermost first, as printed
	// CreatedBy is the "created by" frame, nil for the main goroutine.
	CreatedBy *Frame `json:"created_by,omitempty"`
	// CreatedByGoroutine is the "in goroutine N" of the created-by line.
	CreatedByGoroutine int64 `json:"created_by_goroutine,omitempty"`
	// FramesElided is true when the runtime printed "...additional frames elided...".
	FramesElided bool `json:"frames_elided,omitempty"`
	// Labels are the goroutine's runtime/pprof labels as the header
	// printed them (Go 1.26+ with GODEBUG=tracebacklabels=1, the default
	// for modules declaring go 1.27 or later), unescaped; nil when none
	// were printed.
	Labels map[string]string `json:"labels,omitempty"`
	// LabelsUnparsed is the header's labels text, from "labels:{" on, when
	// it was not in the form this version parses (the runtime says the
	// format may change): kept rather than lost.
	LabelsUnparsed string `json:"labels_unparsed,omitempty"`
}

// Frame is one stack frame.
type Frame struct {
	// Function is the fully qualified Go function name as printed,
	// e.g. "main.(*T).crash" or "github.com/x/y.f.func1".
	Function string `json:"function"`
	// Package is the import path part of Function, e.g. "main" or "github.com/x/y".
	Package string `json:"package,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	// PC is the program counter when known (GOTRACEBACK=system prints pc=, native frames).
	PC uint64 `json:"pc,omitempty"`
	// Offset is the "+0x1d" after the line, when printed.
	Offset uint64 `json:"offset,omitempty"`
	// Args is the raw argument list as printed, e.g. "0xc000012345, 0x2".
	Args string `json:"args,omitempty"`
	// InApp is true for frames of the main module.
	InApp bool `json:"in_app,omitempty"`
	// Native is true for frames found by the native frame walk, not printed by Go.
	Native bool `json:"native,omitempty"`
	// Image is the path of the image that holds PC, for native frames.
	Image string `json:"image,omitempty"`
}

// Process describes the process that crashed.
type Process struct {
	PID        int       `json:"pid"`
	Executable string    `json:"executable"`
	Args       []string  `json:"args,omitempty"`
	Hostname   string    `json:"hostname,omitempty"`
	StartTime  time.Time `json:"start_time"`
	// CrashTime is when the crash output or fault record was last written.
	CrashTime time.Time `json:"crash_time"`
	GoVersion string    `json:"go_version"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	// Traceback is the GOTRACEBACK level in effect ("single", "all", ...).
	Traceback string `json:"traceback,omitempty"`
	// Build is what debug.ReadBuildInfo said in the crashing process.
	Build *BuildInfo `json:"build,omitempty"`
	// Sentry options that shape the event, captured at Install so that a
	// report sent by a later process is still sent as the crashing one would.
	Release     string            `json:"release,omitempty"`
	Environment string            `json:"environment,omitempty"`
	ServerName  string            `json:"server_name,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Dist        string            `json:"dist,omitempty"`
}

// BuildInfo is the subset of runtime/debug.BuildInfo a report needs.
type BuildInfo struct {
	MainPath    string            `json:"main_path,omitempty"`
	MainVersion string            `json:"main_version,omitempty"`
	VCSRevision string            `json:"vcs_revision,omitempty"`
	VCSTime     string            `json:"vcs_time,omitempty"`
	VCSModified bool              `json:"vcs_modified,omitempty"`
	Deps        map[string]string `json:"deps,omitempty"` // module path -> version
}

// NativeFault is what the native layer recorded at fault time.
type NativeFault struct {
	// Signal is the signal number (0 when only a Mach exception was seen).
	Signal     int    `json:"signal,omitempty"`
	SignalName string `json:"signal_name,omitempty"`
	// SignalCode is si_code, CodeName its name ("SEGV_MAPERR").
	SignalCode int    `json:"signal_code,omitempty"`
	CodeName   string `json:"code_name,omitempty"`
	// Mach is the Mach exception (darwin), nil elsewhere.
	Mach *MachException `json:"mach,omitempty"`
	// Address is the fault address (si_addr / exception subcode).
	Address uint64 `json:"address"`
	PC      uint64 `json:"pc"`
	// ThreadID is the OS thread id of the faulting thread.
	ThreadID uint64 `json:"thread_id"`
	// GoThread is false for a thread Go did not create (no signal stack).
	GoThread bool `json:"go_thread"`
	// Fatal is true when the handler knew the fault was fatal.
	Fatal bool `json:"fatal"`
	// Registers by name, e.g. "rip", "rsp", "x0".
	Registers map[string]uint64 `json:"registers,omitempty"`
	// Frames are the native frames, innermost first.
	Frames []Frame `json:"frames,omitempty"`
}

// MachException is a darwin Mach exception.
type MachException struct {
	Exception int    `json:"exception"` // EXC_BAD_ACCESS = 1
	Name      string `json:"name"`      // "EXC_BAD_ACCESS"
	Code      int64  `json:"code"`      // KERN_INVALID_ADDRESS = 1
	CodeName  string `json:"code_name,omitempty"`
	Subcode   uint64 `json:"subcode"` // the fault address for EXC_BAD_ACCESS
}

// Image is a loaded executable image.
type Image struct {
	Path        string `json:"path"`
	Base        uint64 `json:"base"`
	Size        uint64 `json:"size"`
	Type        string `json:"type"`               // "elf" or "macho"
	BuildID     string `json:"build_id,omitempty"` // hex ELF build-id
	UUID        string `json:"uuid,omitempty"`     // Mach-O LC_UUID
	DebugID     string `json:"debug_id,omitempty"` // Sentry debug id
	CodeID      string `json:"code_id,omitempty"`  // Sentry code id
	IsMain      bool   `json:"is_main,omitempty"`  // the executable itself
	ImageVMAddr uint64 `json:"image_vmaddr,omitempty"`
}
