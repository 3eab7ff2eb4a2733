package sentryevent

import (
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// osNames maps GOOS to the OS names Sentry's os context uses.
var osNames = map[string]string{
	"linux": "Linux", "darwin": "macOS", "windows": "Windows", "freebsd": "FreeBSD",
	"netbsd": "NetBSD", "openbsd": "OpenBSD", "android": "Android", "ios": "iOS",
}

// contexts builds the os, runtime and device contexts (as sentry-go fills
// them for a live process, but from what the crashing process recorded) and
// the "crashguard" context with what only crashguard knows.
func contexts(r *report.Report) map[string]sentry.Context {
	p := &r.Process
	c := map[string]sentry.Context{}
	if p.GOOS != "" {
		name := osNames[p.GOOS]
		if name == "" {
			name = p.GOOS
		}
		c["os"] = sentry.Context{"name": name}
	}
	if p.GoVersion != "" {
		c["runtime"] = sentry.Context{"name": "go", "version": p.GoVersion}
	}
	if p.GOARCH != "" {
		c["device"] = sentry.Context{"arch": p.GOARCH}
	}
	c["crashguard"] = crashguardContext(r)
	return c
}

func crashguardContext(r *report.Report) sentry.Context {
	p := &r.Process
	c := sentry.Context{
		"kind":                 string(r.Kind),
		"message_inferred":     r.MessageInferred,
		"os_report_suppressed": r.OSReportSuppressed,
	}
	set := func(k string, v any, ok bool) {
		if ok {
			c[k] = v
		}
	}
	set("run_id", r.RunID, r.RunID != "")
	set("inferred_from", r.InferredFrom, r.InferredFrom != "")
	set("pid", p.PID, p.PID != 0)
	set("executable", p.Executable, p.Executable != "")
	set("start_time", p.StartTime.UTC().Format(time.RFC3339Nano), !p.StartTime.IsZero())
	set("traceback", p.Traceback, p.Traceback != "")
	set("crashed_goroutine", r.CrashedGoroutine, r.CrashedGoroutine != 0)
	set("goroutines", len(r.Goroutines), len(r.Goroutines) != 0)
	set("crash_output_truncated", true, r.CrashOutputTruncated)
	if n := r.Native; n != nil {
		c["native"] = map[string]any{
			"thread_id":     n.ThreadID,
			"go_thread":     n.GoThread,
			"fatal":         n.Fatal,
			"fault_address": hexAddr(n.Address),
			"pc":            hexAddr(n.PC),
		}
	}
	if b := p.Build; b != nil {
		build := map[string]any{}
		for k, v := range map[string]string{"main_path": b.MainPath, "main_version": b.MainVersion,
			"vcs_revision": b.VCSRevision, "vcs_time": b.VCSTime} {
			if v != "" {
				build[k] = v
			}
		}
		if b.VCSModified {
			build["vcs_modified"] = true
		}
		if len(build) > 0 {
			c["build"] = build
		}
	}
	return c
}

// modules lists the build's module dependencies, plus the main module, as
// sentry-go's modules integration does.
func modules(r *report.Report) map[string]string {
	b := r.Process.Build
	if b == nil {
		return nil
	}
	m := make(map[string]string, len(b.Deps)+1)
	for path, v := range b.Deps {
		m[path] = v
	}
	if b.MainPath != "" {
		v := b.MainVersion
		if v == "" {
			v = "(devel)"
		}
		m[b.MainPath] = v
	}
	return m
}
