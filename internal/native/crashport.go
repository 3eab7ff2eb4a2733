package native

import "errors"

// ErrMachUnsupported is returned by the darwin-only Mach calls (such as
// nulling the task's EXC_CRASH port) where there are no Mach exception ports:
// any platform but darwin, or darwin built with CGO_ENABLED=0.
var ErrMachUnsupported = errors.New("crashguard/native: Mach exception ports need darwin with cgo")

// SetCrashPortNull sets (on) the task's EXC_CRASH exception port to
// MACH_PORT_NULL, or (off) restores the port found before. darwin with cgo
// only; elsewhere it returns ErrMachUnsupported. Since macOS 10.11 an
// unhandled EXC_CRASH becomes a corpse that ReportCrash still reports (xnu
// osfmk/kern/task.c task_deliver_crash_notification), so this alone does not
// silence Crash Reporter on current macOS.
func SetCrashPortNull(on bool) error { return setCrashPortNull(on) }
