package native

// SetCrashPortNull sets (on) the task's EXC_CRASH exception port to
// MACH_PORT_NULL, or (off) restores the port found before. darwin with cgo
// only; elsewhere it returns ErrMachUnsupported. Since macOS 10.11 an
// unhandled EXC_CRASH becomes a corpse that ReportCrash still reports (xnu
// osfmk/kern/task.c task_deliver_crash_notification), so this alone does not
// silence Crash Reporter on current macOS.
func SetCrashPortNull(on bool) error { return setCrashPortNull(on) }
