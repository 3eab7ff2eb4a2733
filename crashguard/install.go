package crashguard

import (
	"context"
	"errors"
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
// Call it once, at the top of main. A second call returns the first Guard
// and error. Install never blocks on the network and never returns a nil
// Guard: every method of the Guard is safe to call whatever the error.
//
// The error says what could not be set up, and the Guard what still works:
//   - ErrInvalidDSN: crashes are captured and kept on disk, not sent.
//   - ErrDirUnusable: the directory could not be used; crashes are captured
//     in a fallback directory (Guard.Dir), or, when no directory at all could
//     be used, not captured (Guard.Layers is empty) and the Guard is inert.
//     An unusable outbox/ keeps capture into runs/ and delays delivery.
//   - a native layer that cannot be installed is logged, not returned: the
//     Go crash output capture stays in place.
//
// With CRASHGUARD_DISABLE=1 it does nothing and returns an inert Guard with
// ErrDisabled.
func Install(opts Options) (*Guard, error) {
	installMu.Lock()
	defer installMu.Unlock()
	if installed != nil {
		return installed, installed.err
	}
	s := resolve(opts)
	if os.Getenv("CRASHGUARD_DISABLE") == "1" {
		s.logger.Info("crashguard: disabled by CRASHGUARD_DISABLE=1; no crash capture")
		return &Guard{disabled: true, s: s, err: ErrDisabled}, ErrDisabled
	}
	g := install(opts, s)
	installed = g
	if g.run != nil {
		go func() { _, _ = g.noteStart() }() // for LastRun, off Install's path
		g.startBackground()
		g.startScope() // the sentry-go scope and runtime, snapshotted beside the run
		if opts.Monitor {
			go g.startMonitor() // fork and exec cost Install nothing
		}
	}
	return g, g.err
}

// Open opens opts.Dir (or CRASHGUARD_DIR, or the default directory) to
// collect and deliver the crashes of other processes, without capturing
// this one: what a sidecar, a systemd ExecStopPost= or a cron job does for
// programs that may never start again (see the crashguard command in
// crashguard/cmd/crashguard). Flush and Pending work as on an installed
// Guard; nothing is captured, so RunID is empty and Layers none.
func Open(opts Options) (*Guard, error) {
	s := resolve(opts)
	s.dirs = []string{s.dir}
	if s.dsnErr != nil {
		return nil, s.dsnErr
	}
	return open(opts, s)
}

// newGuard is a Guard over s with nothing open yet: on its own, inert.
func newGuard(opts Options, s settings) *Guard {
	return &Guard{s: s, opts: opts, flushSem: make(chan struct{}, 1)}
}

// open prepares the Guard's outbox and collector over s.dir without
// capturing anything: what a process needs to collect and deliver.
func open(opts Options, s settings) (*Guard, error) {
	g := newGuard(opts, s)
	if err := ensureDir(s.dir); err != nil {
		return nil, err
	}
	if err := g.openOutbox(); err != nil {
		return nil, err
	}
	return g, nil
}

// openOutbox opens outbox/ and the collector that fills it. On failure the
// Guard still captures; collection waits for a start that has an outbox,
// so no dead run is lost meanwhile.
func (g *Guard) openOutbox() error {
	g.sessions = g.newSessionSpool() // its own directory: usable without the outbox
	ob, err := openOutbox(filepath.Join(g.s.dir, "outbox"), g.s.logger, g.opts)
	if err != nil {
		g.outboxErr = fmt.Errorf("%w: outbox in %s: %w; crashes are still captured and delivered once it is usable", ErrDirUnusable, g.s.dir, err)
		return g.outboxErr
	}
	g.outbox = ob
	g.collector = &collector.Collector{Runs: filepath.Join(g.s.dir, "runs"), Outbox: ob, Logger: g.s.logger, OnEnded: g.ended}
	return nil
}

// install starts capturing this process's crashes in the first usable
// directory and opens the outbox there. It always returns a Guard; the
// Guard's err says what is missing.
func install(opts Options, s settings) *Guard {
	g := newGuard(opts, s)
	meta := &runfile.Meta{
		EventID: collector.NewEventID(),
		Process: processInfo(s, opts),
		// A few addresses, computed without allocation beyond the map: what
		// lets the collector name a fatal error exactly.
		FatalStrings: traceback.FatalStrings(),
		Session:      sessionMeta(s, opts),
	}
	run, dirErr := g.startRun(meta)
	if run == nil {
		g.err = errors.Join(s.dsnErr, dirErr)
		s.logger.Warn("crashguard: not installed: no usable directory; no crash capture", "err", dirErr)
		return g
	}
	g.run = run
	if _, known := tracebackLevels[opts.Traceback]; known && opts.Traceback != "" {
		debug.SetTraceback(opts.Traceback)
	} else if opts.Traceback != "" {
		// The runtime reads an unknown level as "all goroutines, level 0"
		// ORed into GOTRACEBACK's: a surprise, not what was asked.
		s.logger.Warn("crashguard: unknown Options.Traceback ignored", "traceback", opts.Traceback)
	}
	if err := debug.SetCrashOutput(run.CrashFile, debug.CrashOptions{}); err != nil {
		_ = run.Abandon()
		g.run = nil
		g.err = errors.Join(s.dsnErr, fmt.Errorf("crashguard: set crash output: %w", err))
		return g
	}
	g.layers.CrashOutput = true
	obErr := g.openOutbox()
	if prev := run.Predecessor; prev != nil {
		// This start ended that run by taking its files over: its session
		// ends here, before main runs, so a crash at once loses no count
		// (a file write, about 30 µs, and only for a run with a session).
		g.ended(prev, false, time.Time{})
	}
	g.installNative()
	if err := g.applySuppression(opts.SuppressOSCrashReports); err != nil {
		s.logger.Warn("crashguard: OS crash report suppression not applied", "err", err)
	}
	g.err = errors.Join(s.dsnErr, dirErr, obErr)
	s.logger.Info("crashguard: installed", "dir", g.s.dir, "run", run.ID, "layers", g.layers.String(),
		"traceback", s.traceback, "delivery", s.dsn != "" && obErr == nil)
	return g
}

// startRun starts this process's run in the first directory that can hold
// it and makes that the Guard's directory. The error names every directory
// refused and why (ErrDirUnusable); with a run it is the warning that a
// fallback is in use.
func (g *Guard) startRun(meta *runfile.Meta) (*runfile.Run, error) {
	var refused []error
	for _, dir := range g.s.dirs {
		err := ensureDir(dir)
		if err == nil {
			var run *runfile.Run
			if run, err = runfile.Start(filepath.Join(dir, "runs"), meta); err == nil {
				g.s.dir = dir
				if len(refused) == 0 {
					return run, nil
				}
				err := fmt.Errorf("%w: %w; capturing in %s instead", ErrDirUnusable, errors.Join(refused...), dir)
				g.s.logger.Warn("crashguard: using the fallback directory", "err", err)
				return run, err
			}
		}
		refused = append(refused, fmt.Errorf("%s: %w", dir, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrDirUnusable, errors.Join(refused...))
}

func processInfo(s settings, opts Options) report.Process {
	exe := s.executable
	if exe == "" {
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
	if g.collector == nil {
		return // no outbox: the dead runs wait for a start that has one
	}
	// Taken here, before the goroutine runs, so that a Flush called right
	// after Install waits for this pass instead of finding the runs it
	// claimed "alive", returning, and letting the process exit mid-delivery.
	// The cancel is set here too: a Flush cancels the network part of this
	// pass and takes over, so it never waits behind a hanging Sentry.
	g.flushSem <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancelBackground = cancel
	go func() {
		defer func() { <-g.flushSem }()
		defer cancel()
		if err := g.collect(ctx, false); err != nil {
			g.s.logger.Warn("crashguard: collecting earlier runs", "err", err)
		}
		if g.s.dsn == "" || ctx.Err() != nil {
			return
		}
		if n, err := g.outbox.count(); (err != nil || n == 0) && !g.sessionsDue() {
			return
		}
		ctx, stop := context.WithTimeout(ctx, backgroundFlushTimeout)
		defer stop()
		if err := g.deliver(ctx, true); err != nil {
			g.s.logger.Warn("crashguard: background delivery incomplete", "err", err)
		}
	}()
}
