package monitor

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/crashguard/crashguard-go/internal/runfile"
)

// memoryLimit is the monitor's soft memory limit: it parses and sends one
// report at a time (a 10,000-goroutine crash is a few MB).
const memoryLimit = 64 << 20

// Work is what the monitor does once the run ended: collect every dead run
// into the outbox and, unless cfg.CollectOnly, deliver, within ctx.
type Work func(ctx context.Context, cfg Config) error

// Run is the monitor's whole life; it never returns. It reads its
// configuration, makes itself hard to kill by accident (SIGINT, SIGTERM,
// SIGHUP and SIGQUIT ignored: a Ctrl-C or a service stop sent to the
// program's process group must not end an upload; Start already put it in
// a session of its own), waits for the run to end, does work within the
// configured deadline, and exits: 0 when the work succeeded, 1 otherwise.
// A process that ignores its deadline is ended by a timer, so the monitor
// never outlives it.
func Run(work Work) {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	debug.SetMemoryLimit(memoryLimit)
	cfg, err := readConfig()
	if err != nil {
		os.Exit(2)
	}
	if err := runfile.WaitDead(filepath.Join(cfg.Dir, "runs"), cfg.RunID); err != nil {
		os.Exit(1)
	}
	// The hard stop: a little after the deadline, whatever is stuck.
	time.AfterFunc(cfg.Timeout+time.Second, func() { os.Exit(3) })
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	err = work(ctx, cfg)
	cancel()
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}
