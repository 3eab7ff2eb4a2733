package crashguard

import (
	"errors"
	"os"
	"sync"

	"github.com/crashguard/crashguard-go/internal/runfile"
)

// suppressionState is what SuppressOSCrashReports switched, to switch it back.
type suppressionState struct {
	mu sync.Mutex
	// undo restores what suppressPlatform changed; non-nil exactly while
	// suppression is on.
	undo func() error
}

// SuppressOSCrashReports switches the operating system's own crash report
// off (on=true) or back to what it was (on=false), at any time, from any
// goroutine. It returns an error saying why when it cannot be done here
// (errors.Is ErrUnsupported), and then changes nothing.
//
// Linux: PR_SET_DUMPABLE=0 and RLIMIT_CORE=0 (no core file, nothing piped to
// systemd-coredump or apport), plus, with the native layer, a fatal fault on
// a thread Go did not create ends with _exit(128+signal) once its record is
// complete. PR_SET_DUMPABLE=0 also stops unprivileged ptrace attach
// (debuggers, perf/rbspy attaching from outside) and makes /proc/<pid> owned
// by root while it is on; switching off restores the values found before.
//
// macOS: see DarwinSuppression.
func (g *Guard) SuppressOSCrashReports(on bool) error {
	switch {
	case g == nil:
		return ErrDisabled
	case g.disabled:
		return ErrDisabled
	case g.run == nil && g.err != nil:
		return g.err // Install failed: nothing to suppress for
	}
	g.suppress.mu.Lock()
	defer g.suppress.mu.Unlock()
	return g.setSuppression(on)
}

// applySuppression applies Options.SuppressOSCrashReports at Install.
func (g *Guard) applySuppression(on bool) error {
	if !on {
		return nil
	}
	return g.SuppressOSCrashReports(true)
}

// setSuppression does the work; g.suppress.mu is held.
func (g *Guard) setSuppression(on bool) error {
	if on == (g.suppress.undo != nil) {
		return nil
	}
	if !on {
		err := g.suppress.undo()
		g.suppress.undo = nil
		g.markSuppressed(false)
		return err
	}
	undo, err := g.suppressPlatform()
	if err != nil {
		return err
	}
	g.suppress.undo = undo
	g.markSuppressed(true)
	return nil
}

// markSuppressed keeps a marker in the run directory while suppression is
// on, so that the report of a crash says the OS report was suppressed even
// when nothing in the native record does (GOTRACEBACK=crash on Linux, where
// PR_SET_DUMPABLE did the work).
func (g *Guard) markSuppressed(on bool) {
	if g.run == nil {
		return
	}
	path := g.run.Path(runfile.SuppressedName)
	if on {
		// O_EXCL: never follow a link planted at that name; one that is
		// already there (ours, from an earlier toggle) means "on".
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			_ = f.Close()
		}
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		g.s.logger.Warn("crashguard: cannot remove suppression marker", "err", err)
	}
}
