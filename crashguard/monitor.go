package crashguard

import (
	"context"
	"errors"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/monitor"
)

// A process started as a monitor (Options.Monitor) runs it here, from init,
// before the program's main package is initialized, and exits: the program
// itself never runs in it.
func init() {
	if monitor.Requested() {
		monitor.Run(monitorWork)
	}
}

// monitorWork is what the monitor does once its run ended: what the next
// start would do, now. Every dead run in the directory is collected (the
// one waited for and any other), and the outbox delivered within ctx.
func monitorWork(ctx context.Context, cfg monitor.Config) error {
	opts := Options{Dir: cfg.Dir, OmitCrashOutput: cfg.OmitCrashOutput, Sentry: sentry.ClientOptions{
		Dsn: cfg.DSN, HTTPProxy: cfg.HTTPProxy, HTTPSProxy: cfg.HTTPSProxy}}
	s := resolve(opts)
	s.dirs = []string{s.dir} // the run's own directory; adoption is for starts
	g, err := open(opts, s)
	if err != nil {
		return err
	}
	err = g.collect(ctx, true)
	if cfg.CollectOnly || g.s.dsn == "" {
		return err
	}
	return errors.Join(err, g.deliver(ctx, false))
}

// startMonitor starts this run's monitor, off Install's critical path. It
// logs why when it cannot, and when something in the environment keeps the
// monitor from doing its job (see monitor.Limits).
func (g *Guard) startMonitor() {
	log := g.s.logger
	limits, pid1 := monitor.Limits(g.s.dir)
	for _, l := range limits {
		log.Warn("crashguard: monitor: " + l)
	}
	if pid1 {
		return
	}
	timeout := g.opts.MonitorTimeout
	if timeout <= 0 {
		timeout = monitor.DefaultTimeout
	}
	o := g.opts.Sentry
	cfg := monitor.Config{
		Dir:        g.s.dir,
		RunID:      g.run.ID,
		DSN:        g.s.dsn,
		Timeout:    timeout,
		HTTPProxy:  o.HTTPProxy,
		HTTPSProxy: o.HTTPSProxy,
		// The program's choice, data the monitor can have.
		OmitCrashOutput: g.opts.OmitCrashOutput,
		// Go values the monitor, another process, cannot have: it
		// collects, and the next start sends through them.
		CollectOnly: o.BeforeSend != nil || o.HTTPClient != nil || o.HTTPTransport != nil ||
			o.CaCerts != nil || g.opts.HTTPClient != nil,
	}
	pid, err := monitor.Start(g.opts.MonitorExecutable, cfg)
	if err != nil {
		log.Warn("crashguard: monitor not started; crashes are delivered by the next start", "err", err)
		return
	}
	log.Info("crashguard: monitor started", "pid", pid, "collect_only", cfg.CollectOnly)
}
