package collector

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

// Outcome is what Build made of a dead run: a report, damaged evidence to
// quarantine, both, or neither (a clean end).
type Outcome struct {
	// Report is the crash report; nil when the run holds no evidence of a
	// crash.
	Report *report.Report
	// Damage is set when the run file holds bytes that are neither Go crash
	// output nor nothing: they are kept in quarantine, never sent.
	Damage *Damage
	// Meta is the run's metadata line, nil when it was missing or damaged.
	Meta *runfile.Meta
}

// Damage is a run file's content that cannot be a report.
type Damage struct {
	// Reason says in one line why it is not a crash output.
	Reason string
	// Details are further lines for the quarantine reason file.
	Details string
	// Raw is the start of the run file, at most maxQuarantineRaw bytes.
	Raw []byte
}

// Build makes the outcome of a dead run. A report is made only of evidence:
// Go crash output (findCrashOutput) or a flight recorder record that says
// the process died of a fault. A run file with a valid metadata line and
// nothing after it is a clean end (return, os.Exit, SIGKILL, recovered
// panics), as is an empty one (the process died in Start). Anything else in
// the run file is Damage; when a fatal record exists as well, the report is
// made of the record alone.
//
// It reads the run's evidence first (readEvidence), assembles the outcome
// from it (assemble: no I/O), then symbolizes the fault's frames from the
// images on disk and adds the scope file's context.
func Build(d *runfile.Dead, maxOutput int64) (*Outcome, error) {
	ev, err := readEvidence(d, maxOutput)
	if err != nil {
		return nil, err
	}
	out, fault := assemble(ev)
	if r := out.Report; r != nil {
		if fault != nil {
			ev.native.symbolizeFault(r, fault)
		}
		readScope(d, r)
	}
	return out, nil
}

// runEvidence is what Build reads of a dead run, all of it before any of
// it is assembled.
type runEvidence struct {
	// id is the run's id.
	id string
	// run is the run file's content.
	run *runfile.Content
	// native is the flight recorder's content.
	native *nativeEvidence
	// suppressed says the suppression marker was beside the run: OS crash
	// reports were suppressed when the process died.
	suppressed bool
}

func readEvidence(d *runfile.Dead, maxOutput int64) (*runEvidence, error) {
	c, err := d.Read(maxOutput)
	if err != nil {
		return nil, err
	}
	native, err := readNative(d)
	if err != nil {
		return nil, err
	}
	_, err = os.Lstat(d.Path(runfile.SuppressedName))
	return &runEvidence{id: d.ID, run: c, native: native, suppressed: err == nil}, nil
}

// assemble makes the outcome of a dead run from its evidence (see Build),
// and returns the fault record its report carries (nil: none), whose frames
// are still to be symbolized. Pure: it reads no file.
func assemble(ev *runEvidence) (*Outcome, *flightrec.Record) {
	c, native := ev.run, ev.native
	meta := c.Meta
	var hints traceback.Hints
	if meta != nil {
		hints = traceback.Hints{GOOS: meta.Process.GOOS, Strings: meta.FatalStrings}
	}
	out := &Outcome{Meta: c.Meta}
	clean := len(c.Raw) == 0 || meta != nil && len(bytes.TrimSpace(c.Output)) == 0
	var crash *crashOutput
	if !clean {
		var why string
		if crash, why = findCrashOutput(c, hints); crash == nil {
			out.Damage = damage(c, why)
		}
	}
	if crash == nil && native.fatal() == nil {
		return out, nil
	}
	if meta == nil {
		// The process crashed but its metadata is unreadable: still report
		// what we have rather than lose the crash.
		meta = &runfile.Meta{RunID: ev.id}
	}
	r := &report.Report{
		FormatVersion: report.FormatVersion,
		EventID:       meta.EventID,
		RunID:         ev.id,
		Process:       meta.Process,
	}
	if r.EventID == "" {
		r.EventID = NewEventID()
	}
	// The file's mtime comes from the kernel's coarse clock (one tick, up to
	// 10ms behind), so a crash right after start can look older than the
	// start itself; it cannot have been.
	r.Process.CrashTime = c.ModTime
	if r.Process.CrashTime.Before(r.Process.StartTime) {
		r.Process.CrashTime = r.Process.StartTime
	}

	if crash != nil {
		r.CrashOutput = string(crash.text)
		r.CrashOutputTruncated = c.Truncated
		fromCrashOutput(r, crash.parsed)
	}
	fault := native.fault(r.Signal)
	if fault != nil {
		native.merge(r, fault)
	}
	if !r.OSReportSuppressed && ev.suppressed && suppressedByOS(r) {
		r.OSReportSuppressed = true
	}
	markInApp(r)
	out.Report = r
	return out, fault
}

// fromCrashOutput fills the report from the parsed Go crash output.
func fromCrashOutput(r *report.Report, res *traceback.Result) {
	r.Kind = res.Kind
	r.Message = res.Message
	r.MessageInferred = res.MessageInferred
	r.InferredFrom = res.InferredFrom
	r.Panics = res.Panics
	r.Signal = res.Signal
	r.Goroutines = res.Goroutines
	r.CrashedGoroutine = res.CrashedGoroutine
	if r.Kind == "" {
		r.Kind = report.KindFatalError
	}
}

// markInApp flags the frames of the main module (and package main), which is
// what Sentry groups and highlights by.
func markInApp(r *report.Report) {
	mainPath := ""
	if r.Process.Build != nil {
		mainPath = r.Process.Build.MainPath
	}
	for gi := range r.Goroutines {
		g := &r.Goroutines[gi]
		for fi := range g.Frames {
			g.Frames[fi].InApp = inApp(g.Frames[fi].Package, mainPath)
		}
		if g.CreatedBy != nil {
			g.CreatedBy.InApp = inApp(g.CreatedBy.Package, mainPath)
		}
	}
}

func inApp(pkg, mainPath string) bool {
	if pkg == "main" {
		return true
	}
	if mainPath == "" || mainPath == "command-line-arguments" {
		return false
	}
	return pkg == mainPath || strings.HasPrefix(pkg, mainPath+"/")
}

// NewEventID returns a fresh Sentry event id: 32 lowercase hex digits.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// suppressedByOS says whether, with suppression on when the process died,
// the OS would have reported the death: a death by signal, which in Go
// means GOTRACEBACK=crash (the runtime re-raises SIGABRT at SIG_DFL) or a
// native fault. A plain Go crash exits with status 2 and no OS report
// either way.
func suppressedByOS(r *report.Report) bool {
	return r.Process.Traceback == "crash" || (r.Native != nil && r.Native.Fatal)
}
