package sentryevent

import (
	"fmt"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/signals"
)

// Mechanism types; see the package documentation.
const (
	MechanismPanic         = "go.panic"
	MechanismFatal         = "go.fatal"
	MechanismFault         = "go.fault"
	MechanismSignalHandler = "signalhandler"
	MechanismMach          = "mach"
)

// mechanismExtras are the mechanism fields sentry-go has no field for. They
// are attached to a specific *sentry.Mechanism and written by canonicalize.
type mechanismExtras struct {
	Synthetic bool
	Signal    *signalInfo
	Mach      *report.MachException
}

// newException builds the one exception of the event: what killed the
// process, with the crashed goroutine's stack (plus native frames).
func newException(r *report.Report) (sentry.Exception, mechanismExtras) {
	handled := false
	mech := &sentry.Mechanism{Handled: &handled}
	exc := sentry.Exception{Mechanism: mech}
	var x mechanismExtras

	sig, hasSig := signalOf(r)
	if hasSig {
		x.Signal = &sig
	}
	// A Mach record is evidence whatever the kind (a darwin nil dereference
	// is seen by the Mach handler first, then becomes a Go panic).
	if r.Native != nil && r.Native.Mach != nil {
		m := *r.Native.Mach
		if m.Name == "" {
			m.Name = signals.MachExceptionName(m.Exception)
		}
		if m.CodeName == "" {
			m.CodeName = signals.MachCodeName(m.Exception, m.Code)
		}
		x.Mach = &m
	}

	switch {
	case r.Kind == report.KindFault && x.Mach != nil:
		// sentry-cocoa style: the Mach exception is the primary description,
		// the BSD signal it may have become goes into meta.signal.
		m := x.Mach
		x.Synthetic = true
		mech.Type = MechanismMach
		exc.Type = m.Name
		if exc.Type == "" {
			exc.Type = fmt.Sprintf("EXC_%d", m.Exception)
		}
		code := m.CodeName
		if code == "" {
			code = fmt.Sprintf("code %d", m.Code)
		}
		exc.Value = code + " at " + hexAddr(m.Subcode)
	case r.Kind == report.KindFault:
		// sentry-native style: type is the signal name, value its description.
		// The type names a signal, not a type, so the exception is synthetic
		// and Sentry groups by stack trace rather than by type/value.
		x.Synthetic = true
		mech.Type = MechanismFault
		if r.Native != nil {
			mech.Type = MechanismSignalHandler
		}
		switch {
		case hasSig:
			exc.Type = sig.Name
			exc.Value = signalDescriptions[sig.Name]
			if exc.Value == "" {
				exc.Value = "Fatal signal"
			}
			if addressSignals[sig.Name] {
				exc.Value += " at " + hexAddr(sig.Addr)
			}
		default:
			exc.Type = "fault"
			exc.Value = r.Message
		}
	case r.Kind == report.KindFatalError:
		mech.Type = MechanismFatal
		exc.Type = "fatal error"
		exc.Value = r.Message
	default: // report.KindPanic, and any kind a newer collector may invent
		// The runtime's own errors get the type sentry-go names them by;
		// any other value's type is unknown (runtimeerrors.go).
		mech.Type = MechanismPanic
		exc.Type = panicType(r.Message, r.Signal)
		exc.Value = r.Message
	}

	// The value stays the runtime's words; that it was inferred (Go's crash
	// output lacks the "fatal error:" line, golang/go#76859) is mechanism data.
	if r.MessageInferred {
		mech.Data = map[string]any{"message_inferred": true}
		if r.InferredFrom != "" {
			mech.Data["inferred_from"] = r.InferredFrom
		}
	}

	exc.Stacktrace = exceptionStacktrace(r)
	if tid := crashedThreadID(r); tid > 0 {
		exc.ThreadID = uint64(tid)
	}
	return exc, x
}

// crashedThreadID is the thread id the exception points at: the crashed
// goroutine, or for a fault on a thread Go did not create (no goroutine
// crashed) the OS thread id of the native record, which then gets a thread
// entry of its own (see threads.go).
func crashedThreadID(r *report.Report) int64 {
	if g := crashedGoroutine(r); g != nil {
		return g.ID
	}
	if r.CrashedGoroutine > 0 {
		return r.CrashedGoroutine
	}
	if nt := nativeThread(r); nt != nil {
		return int64(nt.ThreadID)
	}
	return 0
}
