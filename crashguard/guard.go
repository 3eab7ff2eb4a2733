package crashguard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crashguard/crashguard-go/internal/collector"
	"github.com/crashguard/crashguard-go/internal/native"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// Guard is the handle Install returns. Every method is safe on a Guard
// that could not be installed, and on a nil *Guard: such a Guard captures
// nothing and its methods return the install error or nothing.
type Guard struct {
	s        settings
	opts     Options
	disabled bool
	// err is what Install returned with this Guard.
	err error
	run *runfile.Run // nil when nothing is captured
	// outbox and collector are nil while outbox/ cannot be used; outboxErr
	// then says why.
	outbox    *outboxStore
	outboxErr error
	collector *collector.Collector
	// sessions is the Release Health spool, set with the outbox.
	sessions *sessionSpool
	layers   Layers
	native   *native.Layers // nil when the native layer is not installed

	// flushSem serializes Flush (the background one included): a Flush must
	// not return while another is still sending a report it skipped.
	flushSem chan struct{}
	// cancelBackground stops Install's background delivery, so that a
	// Flush takes over at once instead of queueing behind a Sentry that
	// does not answer. Set before the background pass starts.
	cancelBackground context.CancelFunc
	// collectMu serializes collection passes, which are local and short: a
	// pass that runs while another holds a dead run's claim would take the
	// run for alive and miss its report. Pending waits on it, never on the
	// network.
	collectMu sync.Mutex

	suppress suppressionState
	// lastRunState is LastRun's answer, worked out once (lastrun.go).
	lastRunState lastRunState
}

// Layers says which capture layers are active in this process.
type Layers struct {
	// CrashOutput: Go's crash output goes to the run's crash file.
	CrashOutput bool
	// SignalChain: crashguard's fatal-signal handlers sit in front of Go's.
	SignalChain bool
	// MachExceptions: the Mach exception thread receives EXC_BAD_ACCESS
	// first (darwin).
	MachExceptions bool
	// FlightRecorder: native fault records are written to the run's
	// flight recorder file.
	FlightRecorder bool
}

// String lists the active layers, e.g. "crash-output+signal-chain".
func (l Layers) String() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		name string
	}{{l.CrashOutput, "crash-output"}, {l.SignalChain, "signal-chain"}, {l.MachExceptions, "mach"}, {l.FlightRecorder, "flight-recorder"}} {
		if p.on {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Report describes a crash report kept on disk.
type Report struct {
	// EventID is the Sentry event id the report will be sent with.
	EventID string
	// RunID names the process run that crashed.
	RunID string
	// Kind is "panic", "fatal_error" or "fault".
	Kind string
	// Message is the panic value or fatal error text.
	Message string
	// MessageInferred is true when the runtime did not print the message and
	// crashguard inferred it from the stack (golang/go#76859).
	MessageInferred bool
	// CrashTime is when the process crashed.
	CrashTime time.Time
	// Attempts counts failed deliveries so far.
	Attempts int
	// LastError is why the last delivery failed, if it did.
	LastError string
}

// Layers returns the capture layers active in this process; none when
// Install failed.
func (g *Guard) Layers() Layers {
	if g == nil {
		return Layers{}
	}
	return g.layers
}

// Dir returns the directory holding the run files and the outbox: the one
// configured, or the fallback Install used instead (see Options.Dir).
func (g *Guard) Dir() string {
	if g == nil {
		return ""
	}
	return g.s.dir
}

// RunID returns the id of this process's run, "" when nothing is captured.
func (g *Guard) RunID() string {
	if g == nil || g.run == nil {
		return ""
	}
	return g.run.ID
}

// Flush collects every dead run into the outbox and delivers everything
// pending, retrying now even reports whose backoff has not passed (but not
// while Sentry's rate limit lasts). It returns when all is done or ctx ends;
// a ctx without a deadline is bounded by Options.FlushTimeout
// (DefaultFlushTimeout), so a deferred Flush never holds up exit for long.
// Install's background delivery, if still running, is cancelled and Flush
// takes over. Reports that could not be delivered stay in the outbox and
// the error says why: errors.Is(err, ErrNotDelivered) (also when ctx ended
// first: then errors.Is(err, ctx.Err()) too), or ErrNoDSN when there is
// nowhere to send them. On a Guard that could not be installed it returns
// the install error.
func (g *Guard) Flush(ctx context.Context) error {
	switch {
	case g == nil:
		return nil
	case g.disabled:
		return nil
	case g.outbox == nil:
		return errors.Join(g.err, g.outboxErr)
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := g.opts.FlushTimeout
		if timeout <= 0 {
			timeout = DefaultFlushTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if g.cancelBackground != nil {
		g.cancelBackground()
	}
	select {
	case g.flushSem <- struct{}{}:
	case <-ctx.Done():
		return g.notDelivered(ctx.Err())
	}
	defer func() { <-g.flushSem }()

	cerr := g.collect(ctx, true)
	if g.s.dsn == "" {
		pending, err := g.outbox.count()
		if err == nil && pending > 0 {
			return errors.Join(cerr, ErrNoDSN)
		}
		return errors.Join(cerr, err)
	}
	return errors.Join(cerr, g.deliver(ctx, false))
}

// notDelivered is Flush's error when it could not even start: ErrNotDelivered
// with why, unless the outbox is known to be empty.
func (g *Guard) notDelivered(why error) error {
	if n, err := g.outbox.count(); err == nil && n == 0 {
		return why
	}
	return fmt.Errorf("%w: %w", ErrNotDelivered, why)
}

// Pending lists the reports on disk not yet delivered, oldest first. It
// collects any dead run first (local work, no network), so a crash of an
// earlier process is listed even before the background delivery got to it.
// On a Guard without a usable outbox it returns the reason.
func (g *Guard) Pending() ([]Report, error) {
	switch {
	case g == nil, g.disabled:
		return nil, nil
	case g.outbox == nil:
		return nil, errors.Join(g.err, g.outboxErr)
	}
	cerr := g.collect(context.Background(), true)
	reps, err := g.outbox.pending()
	return reps, errors.Join(cerr, err)
}

// collect turns dead runs into reports in the outbox, those left in the
// other candidate directories included. A pass is bounded (the collector
// examines and builds a limited number of runs); all repeats passes until
// nothing is left or ctx ends, as Flush, Pending and the monitor need,
// where Install's background pass does one and leaves the rest to the next
// start.
func (g *Guard) collect(ctx context.Context, all bool) error {
	g.collectMu.Lock()
	defer g.collectMu.Unlock()
	err := collectWith(ctx, g.collector, all)
	return errors.Join(err, g.adoptOthers(ctx, all))
}

// collectWith runs one pass of c, or passes until done.
func collectWith(ctx context.Context, c *collector.Collector, all bool) error {
	var err error
	if all {
		_, err = c.CollectUntilDone(ctx)
	} else {
		_, err = c.CollectAll()
	}
	return err
}

func summarize(r *report.Report) Report {
	return Report{
		EventID:         r.EventID,
		RunID:           r.RunID,
		Kind:            string(r.Kind),
		Message:         r.Message,
		MessageInferred: r.MessageInferred,
		CrashTime:       r.Process.CrashTime,
	}
}
