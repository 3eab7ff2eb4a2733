package crashguard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/crashguard/crashguard-go/internal/collector"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

// backgroundFlushTimeout bounds the delivery that Install starts in the
// background, so a program that never calls Flush does not keep a goroutine
// retrying a dead network forever; the next start tries again.
const backgroundFlushTimeout = 2 * time.Minute

var (
	installMu sync.Mutex
	installed *Guard
)

// Install starts capturing crashes of this process and delivers, in the
// background, the reports of earlier processes that died.
//
// Call it once, at the top of main. A second call returns the first Guard.
// Install never blocks on the network. It returns a usable Guard together with
// an error when only part of it could be set up: an invalid DSN
// (ErrInvalidDSN) still captures crashes locally; a native layer that cannot
// be installed leaves the Go crash output capture in place. With
// CRASHGUARD_DISABLE=1 it does nothing and returns a Guard whose methods do
// nothing, with ErrDisabled.
func Install(opts Options) (*Guard, error) {
	installMu.Lock()
	defer installMu.Unlock()
	if installed != nil {
		return installed, nil
	}
	s, err := resolve(opts)
	if os.Getenv("CRASHGUARD_DISABLE") == "1" {
		s.logger.Info("crashguard: disabled by CRASHGUARD_DISABLE=1; no crash capture")
		return &Guard{disabled: true, s: s}, ErrDisabled
	}
	if err != nil {
		return nil, err
	}
	g, err := install(opts, s)
	if err != nil {
		return nil, err
	}
	installed = g
	g.startBackground()
	return g, s.dsnErr
}

// open prepares the Guard's outbox and collector over s.dir without
// capturing anything: what a process needs to collect and deliver.
func open(opts Options, s settings) (*Guard, error) {
	g := &Guard{s: s, opts: opts, flushSem: make(chan struct{}, 1)}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("crashguard: create dir: %w", err)
	}
	ob, err := openOutbox(filepath.Join(s.dir, "outbox"), s.logger)
	if err != nil {
		return nil, err
	}
	g.outbox = ob
	g.collector = &collector.Collector{Runs: filepath.Join(s.dir, "runs"), Outbox: ob, Logger: s.logger}
	return g, nil
}

// install opens the Guard and starts capturing this process's crashes.
func install(opts Options, s settings) (*Guard, error) {
	g, err := open(opts, s)
	if err != nil {
		return nil, err
	}
	if opts.Traceback != "" {
		debug.SetTraceback(opts.Traceback)
	}
	meta := &runfile.Meta{
		EventID: collector.NewEventID(),
		Process: processInfo(s, opts),
		// A few addresses, computed without allocation beyond the map: what
		// lets the collector name a fatal error exactly.
		FatalStrings: traceback.FatalStrings(),
	}
	run, err := runfile.Start(g.collector.Runs, meta)
	if err != nil {
		return nil, err
	}
	g.run = run
	if err := debug.SetCrashOutput(run.CrashFile, debug.CrashOptions{}); err != nil {
		_ = run.Abandon()
		return nil, fmt.Errorf("crashguard: set crash output: %w", err)
	}
	g.layers.CrashOutput = true
	g.installNative()
	if err := g.applySuppression(opts.SuppressOSCrashReports); err != nil {
		s.logger.Warn("crashguard: OS crash report suppression not applied", "err", err)
	}
	s.logger.Info("crashguard: installed", "dir", s.dir, "run", run.ID, "layers", g.layers.String(),
		"traceback", s.traceback, "delivery", s.dsn != "")
	return g, nil
}

func processInfo(s settings, opts Options) report.Process {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	p := report.Process{
		PID:         os.Getpid(),
		StartTime:   time.Now(),
		Executable:  exe,
		Hostname:    s.hostname,
		GoVersion:   runtime.Version(),
		GOOS:        runtime.GOOS,
		GOARCH:      runtime.GOARCH,
		Traceback:   s.traceback,
		Build:       buildInfo(),
		Release:     s.release,
		Environment: s.environment,
		ServerName:  s.serverName,
		Dist:        opts.Sentry.Dist,
	}
	if len(opts.Sentry.Tags) > 0 {
		p.Tags = make(map[string]string, len(opts.Sentry.Tags))
		for k, v := range opts.Sentry.Tags {
			p.Tags[k] = v
		}
	}
	return p
}

func buildInfo() *report.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	b := &report.BuildInfo{MainPath: info.Main.Path, MainVersion: info.Main.Version}
	for _, st := range info.Settings {
		switch st.Key {
		case "vcs.revision":
			b.VCSRevision = st.Value
		case "vcs.time":
			b.VCSTime = st.Value
		case "vcs.modified":
			b.VCSModified = st.Value == "true"
		}
	}
	if len(info.Deps) > 0 {
		b.Deps = make(map[string]string, len(info.Deps))
		for _, d := range info.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			b.Deps[d.Path] = v
		}
	}
	return b
}

// startBackground collects and delivers what earlier runs left behind,
// without holding up main.
//
// It creates no timer unless there is something to send: a stopped timer
// stays in the runtime's timer heap until it would have fired, and while it
// is there Go's deadlock detector (runtime checkdead) stays silent, so a
// program that deadlocks right after Install would hang for the length of
// the timeout instead of crashing.
func (g *Guard) startBackground() {
	// Taken here, before the goroutine runs, so that a Flush called right
	// after Install waits for this pass instead of finding the runs it
	// claimed "alive", returning, and letting the process exit mid-delivery.
	g.flushSem <- struct{}{}
	go func() {
		defer func() { <-g.flushSem }()
		if err := g.collect(); err != nil {
			g.s.logger.Warn("crashguard: collecting earlier runs", "err", err)
		}
		if n, err := g.outbox.count(); err != nil || n == 0 || g.s.dsn == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), backgroundFlushTimeout)
		defer cancel()
		if err := g.deliver(ctx, true); err != nil {
			g.s.logger.Warn("crashguard: background delivery incomplete", "err", err)
		}
	}()
}
