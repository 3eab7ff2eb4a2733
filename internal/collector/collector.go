// Package collector turns the files of dead runs into crash reports in the
// outbox. It is the first half of crashguard's pipeline (the sender is the
// second): it runs at Install for every run left behind by earlier processes,
// and in Flush.
//
// A dead run becomes exactly one report when it holds evidence of a crash
// (Go crash output, or a native fault record the handler knew was fatal), and
// none otherwise: a normal return, os.Exit, SIGKILL or a recovered panic leave
// a run file with its metadata line and nothing after it, and no fatal record.
//
// Evidence must be recognisable: Go crash output is text that opens as the
// runtime's does and holds goroutine or runtime-stack sections (see
// findCrashOutput). A run file holding anything else (the NUL bytes a power
// loss leaves in a file that was never fsynced, random bytes, metadata cut
// short) is damaged: its bytes go to the outbox's quarantine/ with the
// reason, capped at 1 MiB, and never become a report, so a crash is never
// invented. The run's files are removed only once the report, if any, is in
// the outbox and the damaged bytes, if any, are in quarantine.
//
// Most dead runs ended cleanly; those are told without parsing
// (runfile.Dead.NoEvidence: one metadata line, a flight recorder in which
// no record was claimed) and removed at about 0.1 ms each. A pass is
// bounded (DefaultMaxRunsPerPass, DefaultMaxBuildsPerPass) so that it ends
// soon on a crowded runs/; CollectUntilDone repeats passes.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// DefaultMaxCrashOutput caps how much crash output is read. 10,000 goroutines
// print about 2.5 MB with GOTRACEBACK=all; 8 MiB leaves room for deep stacks
// while the report (raw output plus the parsed goroutines) stays under the
// outbox's 16 MiB limit in all but extreme cases, which shrink handles.
const DefaultMaxCrashOutput = 8 << 20

// ErrNoOutbox is returned by CollectAll when the Collector has no Outbox:
// runs are then left as they are, since nothing could keep their reports.
var ErrNoOutbox = errors.New("collector: no outbox to keep reports in")

// Outbox is where reports go. *outbox.Outbox implements it; Put must be
// durable when it returns and idempotent for the same event id. An error
// matching outbox.ErrFolded from Put means the report was counted into its
// crash loop instead of being kept: the run is done with all the same.
// QuarantineData keeps a damaged run file's bytes with the reason, where
// nothing sends them.
type Outbox interface {
	Put(r *report.Report) error
	QuarantineData(name string, data []byte, reason, details string) (string, error)
}

// Bounds of one pass (CollectAll), so that a pass over a crowded runs/ ends
// soon and the program that runs it gets on to delivering; what is left
// waits for the next pass, oldest first, so every pass makes progress.
const (
	// DefaultMaxRunsPerPass is how many runs one pass examines (alive ones
	// included). Telling that a run holds no crash evidence costs a lock
	// and two small reads, about 0.05 ms (0.45 ms to build it the full
	// way); removing its two files costs more, 0.5-2 ms on a loaded ext4
	// VM disk, so 64 runs take up to about 0.1 s. Clean runs rarely pile
	// up: each start takes one over (runfile.Start).
	DefaultMaxRunsPerPass = 64
	// DefaultMaxBuildsPerPass is how many of them are collected the full
	// way (parsed into a report or quarantined): 5-13 ms each for a Go
	// crash, more for a C fault.
	DefaultMaxBuildsPerPass = 16
)

// Collector collects dead runs.
type Collector struct {
	// Runs is the directory that holds the run directories.
	Runs string
	// Outbox keeps reports and damaged runs. Leave it nil (an untyped nil,
	// not a nil pointer in an interface) when the outbox cannot be used.
	Outbox Outbox
	// Logger gets one line per run collected or skipped. Required.
	Logger *slog.Logger
	// MaxCrashOutput caps the crash output read; 0 means DefaultMaxCrashOutput.
	MaxCrashOutput int64
	// MaxRuns and MaxBuilds bound one pass; 0 means DefaultMaxRunsPerPass
	// and DefaultMaxBuildsPerPass.
	MaxRuns, MaxBuilds int
	// OnEnded, when set, is told of each run this collector ends that is a
	// Release Health session (Meta.Session), with its metadata, just before
	// the run's files go: crashed when the run became a report (or was
	// folded into its crash loop's count), at the crash's time; otherwise a
	// clean end, at a time nothing recorded (zero). Runs that are only
	// damage, or whose metadata line is unreadable, are not told: nothing
	// says how they ended.
	OnEnded func(m *runfile.Meta, crashed bool, crashTime time.Time)
}

// Result counts what one pass did.
type Result struct {
	Reports     int // runs that became a report
	Clean       int // dead runs with no crash, removed
	Alive       int // runs still alive (or claimed by another collector)
	Quarantined int // run files kept in quarantine as damaged (some also made a report)
	// Left counts the runs this pass did not get to (its bounds); the next
	// pass takes them, oldest first.
	Left int
}

// CollectAll collects the dead runs, oldest first, within the bounds of one
// pass (MaxRuns, MaxBuilds). A run that holds no crash evidence
// (runfile.Dead.NoEvidence) is removed without being parsed. A run that
// fails is logged, left in place for the next pass and reported in the
// joined error; it never stops the others.
func (c *Collector) CollectAll() (Result, error) {
	var res Result
	if c.Outbox == nil {
		// Nowhere to keep a report or a damaged run: leave every run in
		// place for a pass that has one.
		return res, ErrNoOutbox
	}
	ids, err := runfile.List(c.Runs)
	if err != nil {
		return res, err
	}
	maxRuns, maxBuilds := positive(c.MaxRuns, DefaultMaxRunsPerPass), positive(c.MaxBuilds, DefaultMaxBuildsPerPass)
	builds := 0
	var errs []error
	for i, id := range ids {
		if i == maxRuns {
			res.Left += len(ids) - i
			break
		}
		made, quarantined, err := c.collectOne(id, builds < maxBuilds, &builds)
		if quarantined {
			res.Quarantined++
		}
		switch {
		case errors.Is(err, errNoBudget):
			res.Left++
		case errors.Is(err, runfile.ErrAlive):
			res.Alive++
		case err != nil:
			c.Logger.Warn("crashguard: collect run failed", "run", id, "err", err)
			errs = append(errs, err)
		case made:
			res.Reports++
		case !quarantined:
			res.Clean++
		}
	}
	if res.Left > 0 {
		c.Logger.Info("crashguard: runs left for the next pass", "left", res.Left, "max_runs", maxRuns, "max_builds", maxBuilds)
	}
	return res, errors.Join(errs...)
}

// CollectUntilDone runs passes (CollectAll) while runs are left by a pass's
// bounds and ctx is not done: for Flush and a monitor, which must collect
// everything they can before delivering, where the background pass at
// Install stops after one. It returns the sum of the passes; runs that
// failed are not retried within the call.
func (c *Collector) CollectUntilDone(ctx context.Context) (Result, error) {
	var total Result
	var errs []error
	for {
		res, err := c.CollectAll()
		total.Reports += res.Reports
		total.Clean += res.Clean
		total.Quarantined += res.Quarantined
		total.Alive, total.Left = res.Alive, res.Left
		if err != nil {
			errs = append(errs, err)
		}
		made := res.Reports + res.Clean + res.Quarantined
		if res.Left == 0 || made == 0 || ctx.Err() != nil || errors.Is(err, ErrNoOutbox) {
			return total, errors.Join(errs...)
		}
	}
}

// errNoBudget: the run needs a full collection and the pass has used its
// MaxBuilds.
var errNoBudget = errors.New("collector: pass budget used")

func positive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// collectOne collects run id. A run with no evidence is removed at once;
// any other is built only when mayBuild, counting in builds.
func (c *Collector) collectOne(id string, mayBuild bool, builds *int) (made, quarantined bool, err error) {
	d, err := runfile.Claim(c.Runs, id)
	if err != nil {
		return false, false, err
	}
	var meta *runfile.Meta
	var clean bool
	if c.OnEnded != nil {
		meta, clean = d.CleanEnd() // parses the line of a session run only
	} else {
		clean = d.NoEvidence()
	}
	if clean {
		if meta != nil {
			c.OnEnded(meta, false, time.Time{})
		}
		c.Logger.Debug("crashguard: run ended without a crash", "run", id)
		return false, false, d.Remove()
	}
	if !mayBuild {
		d.Release()
		return false, false, errNoBudget
	}
	*builds++
	max := c.MaxCrashOutput
	if max <= 0 {
		max = DefaultMaxCrashOutput
	}
	o, err := Build(d, max)
	if err != nil {
		d.Release()
		return false, false, err
	}
	if r := o.Report; r != nil {
		err = c.Outbox.Put(r)
		for step := 0; errors.Is(err, outbox.ErrTooLarge) && shrink(r, step); step++ {
			err = c.Outbox.Put(r)
		}
		switch {
		case errors.Is(err, outbox.ErrFolded):
			// A crash loop: counted for the next event of its kind to say,
			// not kept in full. Accounted for, so the run can go.
			c.Logger.Info("crashguard: crash collected and folded into its crash loop's count", "run", id, "event_id", r.EventID, "kind", r.Kind)
		case err != nil:
			// Keep the run: the next pass makes the same report again (the
			// event id comes from the run's metadata, so it stays the same).
			d.Release()
			// The outbox's error names the report; this adds the run.
			return false, false, fmt.Errorf("collector: run %s: %w", id, err)
		default:
			c.Logger.Info("crashguard: crash collected", "run", id, "event_id", r.EventID, "kind", r.Kind, "message", r.Message)
		}
	}
	if dm := o.Damage; dm != nil {
		// The bytes go to quarantine before the run file goes: evidence is
		// never removed unless it is kept elsewhere.
		as, err := c.Outbox.QuarantineData(id+runfile.RunExt, dm.Raw, dm.Reason, dm.Details)
		if err != nil {
			d.Release()
			return o.Report != nil, false, fmt.Errorf("collector: quarantine damaged run %s: %w", id, err)
		}
		c.Logger.Warn("crashguard: damaged run file quarantined, not reported", "run", id, "as", as, "reason", dm.Reason)
	}
	if o.Report == nil && o.Damage == nil {
		c.Logger.Debug("crashguard: run ended without a crash", "run", id)
	}
	if c.OnEnded != nil && o.Meta != nil && o.Meta.Session != nil && (o.Report != nil || o.Damage == nil) {
		var at time.Time
		if o.Report != nil {
			at = o.Report.Process.CrashTime
		}
		c.OnEnded(o.Meta, o.Report != nil, at)
	}
	return o.Report != nil, o.Damage != nil, d.Remove()
}
