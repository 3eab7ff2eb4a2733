package collector

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

// Build makes the report of a dead run, or returns nil when the run holds no
// evidence of a crash.
func Build(d *runfile.Dead, maxOutput int64) (*report.Report, error) {
	meta, out, truncated, modTime, err := d.Read(maxOutput)
	if err != nil {
		return nil, err
	}
	native, err := readNative(d)
	if err != nil {
		return nil, err
	}
	hasOutput := len(bytes.TrimSpace(out)) > 0
	if !hasOutput && native.fatal() == nil {
		return nil, nil
	}
	if meta == nil {
		// The process crashed but its metadata is unreadable: still report
		// what we have rather than lose the crash.
		meta = &runfile.Meta{RunID: d.ID}
	}
	r := &report.Report{
		FormatVersion: report.FormatVersion,
		EventID:       meta.EventID,
		RunID:         d.ID,
		Process:       meta.Process,
	}
	if r.EventID == "" {
		r.EventID = NewEventID()
	}
	// The file's mtime comes from the kernel's coarse clock (one tick, up to
	// 10ms behind), so a crash right after start can look older than the
	// start itself; it cannot have been.
	r.Process.CrashTime = modTime
	if r.Process.CrashTime.Before(r.Process.StartTime) {
		r.Process.CrashTime = r.Process.StartTime
	}

	if hasOutput {
		r.CrashOutput = string(out)
		r.CrashOutputTruncated = truncated
		fromCrashOutput(r, out, meta.FatalStrings)
	}
	native.merge(r)
	if !r.OSReportSuppressed && suppressedByOS(d, r) {
		r.OSReportSuppressed = true
	}
	markInApp(r)
	return r, nil
}

// fromCrashOutput fills the report from Go's crash output. Text the parser
// cannot make sense of still yields a report: the crash happened, and the raw
// output goes along as an attachment.
func fromCrashOutput(r *report.Report, out []byte, fatalStrings map[uint64]string) {
	res, err := traceback.ParseWith(out, traceback.Hints{GOOS: r.Process.GOOS, Strings: fatalStrings})
	if res != nil {
		r.Kind = res.Kind
		r.Message = res.Message
		r.MessageInferred = res.MessageInferred
		r.InferredFrom = res.InferredFrom
		r.Signal = res.Signal
		r.Goroutines = res.Goroutines
		r.CrashedGoroutine = res.CrashedGoroutine
	}
	if err != nil && errors.Is(err, traceback.ErrNotTraceback) && r.Message == "" {
		r.Message = firstLine(out)
	}
	if r.Kind == "" {
		r.Kind = report.KindFatalError
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
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

// suppressedByOS says whether suppression was on when the process died in a
// way the OS would have reported: a death by signal, which in Go means
// GOTRACEBACK=crash (the runtime re-raises SIGABRT at SIG_DFL) or a native
// fault. A plain Go crash exits with status 2 and no OS report either way.
func suppressedByOS(d *runfile.Dead, r *report.Report) bool {
	if _, err := os.Lstat(d.Path(runfile.SuppressedName)); err != nil {
		return false
	}
	return r.Process.Traceback == "crash" || (r.Native != nil && r.Native.Fatal)
}
