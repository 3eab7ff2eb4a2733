//go:build unix

package monitor

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Start starts the monitor for cfg: exe (the program itself when empty) run
// with Marker set, in a session of its own (setsid: no terminal, not in the
// program's process group), stdio on /dev/null, argv[0] saying what it is
// for ps, and the configuration written to a pipe on descriptor 3. The DSN
// goes only through that pipe: SENTRY_DSN is removed from the environment.
// It returns the monitor's pid. The caller must not wait for the monitor:
// it ends after the program, by design; Start reaps it in the background in
// case it ends first.
func Start(exe string, cfg Config) (int, error) {
	if exe == "" {
		var err error
		if exe, err = selfExecutable(); err != nil {
			return 0, err
		}
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("monitor: pipe: %w", err)
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("monitor: %w", err)
	}
	defer null.Close()
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{fmt.Sprintf("crashguard-monitor run=%s exe=%s", cfg.RunID, filepath.Base(exe))},
		Env:        monitorEnv(os.Environ()),
		Stdin:      null,
		Stdout:     null,
		Stderr:     null,
		ExtraFiles: []*os.File{r}, // descriptor 3
		SysProcAttr: &syscall.SysProcAttr{
			Setsid: true,
		},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("monitor: start %s: %w", exe, err)
	}
	go func() { _ = cmd.Wait() }()
	// A pipe holds 64 KiB and the configuration is far smaller, so this
	// write does not wait for the monitor to read.
	_, werr := w.Write(cfgJSON)
	cerr := w.Close()
	if werr != nil || cerr != nil {
		return 0, fmt.Errorf("monitor: write configuration: %v %v", werr, cerr)
	}
	return cmd.Process.Pid, nil
}

// monitorEnv is the program's environment without what the monitor must
// not carry (the DSN: /proc/<pid>/environ is readable by the same user) and
// with the marker, plus GOMAXPROCS=1: one report at a time needs no more.
func monitorEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "SENTRY_DSN" || k == Marker || k == "GOMAXPROCS" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, Marker+"=3", "GOMAXPROCS=1")
}

// selfExecutable is this program's executable. On Linux /proc/self/exe,
// which still works when the file was replaced or removed since start (an
// upgrade in place); elsewhere os.Executable.
func selfExecutable() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}
