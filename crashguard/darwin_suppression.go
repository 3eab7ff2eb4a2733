package crashguard

// DarwinSuppression chooses how crashguard switches off macOS Crash Reporter.
type DarwinSuppression int

const (
	// SuppressByExit is Chromium's way (base/mac/os_crash_dumps.cc): once the
	// fault is recorded, the fatal-signal handler ends the process with
	// _exit(128+signal). A normal exit raises no EXC_CRASH, so ReportCrash
	// writes nothing. It only works for signals that reach crashguard's
	// handler: once Go has reset a signal to its default (GOTRACEBACK=crash)
	// the kernel takes the process down itself.
	SuppressByExit DarwinSuppression = iota
	// SuppressByNullCrashPort sets the task's EXC_CRASH exception port to
	// MACH_PORT_NULL. Since macOS 10.11 an EXC_CRASH that nobody handles
	// becomes a corpse that ReportCrash still reports (xnu
	// osfmk/kern/task.c task_deliver_crash_notification), so on current
	// macOS this alone does not stop Crash Reporter; it is offered for
	// completeness and for older systems.
	SuppressByNullCrashPort
	// SuppressByBoth applies SuppressByExit and SuppressByNullCrashPort.
	SuppressByBoth
)

// String names the mode.
func (d DarwinSuppression) String() string {
	switch d {
	case SuppressByExit:
		return "exit"
	case SuppressByNullCrashPort:
		return "null-crash-port"
	case SuppressByBoth:
		return "exit+null-crash-port"
	}
	return "unknown"
}
