// Package monitor is crashguard's optional helper process: one per run, it
// waits for the run's process to end and then at once collects and delivers
// what it left, so that a crash reaches Sentry even when the program never
// starts again (one-shot commands, batch jobs, scale-to-zero services).
//
// It is a fast path only: the outbox stays the one source of truth, and what
// the monitor cannot deliver within its deadline waits there for the next
// start. It uses files and locks only. It waits on the run file's lock
// (runfile.WaitDead), which the kernel drops however the process dies, so
// nothing in the crash path changes and no other process's task port is
// ever asked for (on macOS, task_for_pid right after exec has frozen process
// listing). Its configuration, DSN included, reaches it through a pipe read
// once at start, never through its environment or argv, which other
// processes of the same user can read (/proc/<pid>/environ).
//
// The helper is the program's own executable re-executed with Marker set in
// its environment; package crashguard's init sees the marker and runs the
// monitor (Run) instead of the program, so the program's main and its
// package's init never run there. Packages initialized before crashguard
// (its dependencies, and packages the import order puts first) do run their
// init functions again.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Marker is the environment variable that makes a process a monitor. Its
// value is the file descriptor number of the configuration pipe.
const Marker = "CRASHGUARD_MONITOR_FD"

// DefaultTimeout bounds what the monitor does after the run ended: collect
// and deliver. Waiting for the run to end has no bound.
const DefaultTimeout = 30 * time.Second

// maxConfig caps the configuration read from the pipe.
const maxConfig = 64 << 10

// Config is what a monitor needs, written by Start to the pipe.
type Config struct {
	// Dir is the crashguard directory (runs/ and outbox/ inside).
	Dir string `json:"dir"`
	// RunID is the run to wait for.
	RunID string `json:"run_id"`
	// DSN is where to deliver; empty: collect only.
	DSN string `json:"dsn,omitempty"`
	// Timeout bounds collection and delivery once the run ended.
	Timeout time.Duration `json:"timeout"`
	// HTTPProxy and HTTPSProxy are sentry-go's proxy options of the
	// program, to send the way it does.
	HTTPProxy  string `json:"http_proxy,omitempty"`
	HTTPSProxy string `json:"https_proxy,omitempty"`
	// CollectOnly: collect into the outbox but send nothing, because the
	// program sends through something the monitor cannot reproduce (a
	// BeforeSend, an HTTP client or transport, CA certificates: Go values,
	// not data). The next start of the program delivers, through them.
	CollectOnly bool `json:"collect_only,omitempty"`
	// OmitCrashOutput is the program's Options.OmitCrashOutput.
	OmitCrashOutput bool `json:"omit_crash_output,omitempty"`
}

// Requested reports whether this process was started as a monitor.
func Requested() bool { return os.Getenv(Marker) != "" }

// readConfig reads the configuration from the pipe whose descriptor the
// marker names, and closes it.
func readConfig() (Config, error) {
	var cfg Config
	var fd int
	if _, err := fmt.Sscanf(os.Getenv(Marker), "%d", &fd); err != nil || fd < 3 {
		return cfg, fmt.Errorf("monitor: bad %s=%q", Marker, os.Getenv(Marker))
	}
	f := os.NewFile(uintptr(fd), "crashguard-monitor-config")
	if f == nil {
		return cfg, errors.New("monitor: no configuration pipe")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return cfg, fmt.Errorf("monitor: read configuration: %w", err)
	}
	if len(b) > maxConfig {
		return cfg, errors.New("monitor: configuration too large")
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("monitor: configuration: %w", err)
	}
	if cfg.Dir == "" || cfg.RunID == "" {
		return cfg, errors.New("monitor: configuration without dir or run id")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg, nil
}
