package native

import (
	"errors"
	"sync/atomic"
)

// ErrMachUnsupported is returned by the darwin-only Mach calls (such as
// nulling the task's EXC_CRASH port) where there are no Mach exception ports:
// any platform but darwin, or darwin built with CGO_ENABLED=0.
var ErrMachUnsupported = errors.New("crashguard/native: Mach exception ports need darwin with cgo")

// machNote says why the last installMach did not install the Mach exception
// handler, for the caller to log ("" when it is installed).
var machNote atomic.Pointer[string]

func setMachNote(s string) { machNote.Store(&s) }

// machInstallNote returns why the Mach exception handler is not installed
// after installMach returned false, or "" when it is installed or
// installMach has not run.
func machInstallNote() string {
	if p := machNote.Load(); p != nil {
		return *p
	}
	return ""
}
