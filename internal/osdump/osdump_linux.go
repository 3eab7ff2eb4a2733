//go:build linux

package osdump

import (
	"fmt"

	"golang.org/x/sys/unix"
)

type saved struct {
	dumpable int
	core     unix.Rlimit
}

// Suppress turns core dumps off: PR_SET_DUMPABLE=0 (no core at all, not even
// one piped to a core_pattern helper, whatever RLIMIT_CORE says) and
// RLIMIT_CORE=0 (soft limit only, so Restore can raise it again without
// privilege).
//
// PR_SET_DUMPABLE=0 has side effects beyond cores (prctl(2), proc(5)): the
// process can no longer be ptrace-attached by unprivileged processes of the
// same user (debuggers, profilers like perf/rbspy attaching from outside),
// and /proc/<pid>/ files become owned by root. Restore undoes both.
func Suppress() (*Saved, error) {
	var s Saved
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("osdump: PR_GET_DUMPABLE: %w", err)
	}
	s.dumpable = d
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &s.core); err != nil {
		return nil, fmt.Errorf("osdump: getrlimit(RLIMIT_CORE): %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("osdump: PR_SET_DUMPABLE 0: %w", err)
	}
	lim := s.core
	lim.Cur = 0
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(s.dumpable), 0, 0, 0)
		return nil, fmt.Errorf("osdump: setrlimit(RLIMIT_CORE, 0): %w", err)
	}
	return &s, nil
}

// Restore puts back the dumpable flag and core limit found by Suppress.
func (s *Saved) Restore() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &s.core); err != nil {
		return fmt.Errorf("osdump: restore RLIMIT_CORE: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(s.dumpable), 0, 0, 0); err != nil {
		return fmt.Errorf("osdump: restore PR_SET_DUMPABLE %d: %w", s.dumpable, err)
	}
	return nil
}

// Current reports the dumpable flag and the core soft limit now.
func Current() (dumpable int, coreLimit uint64, err error) {
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return 0, 0, err
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		return 0, 0, err
	}
	return d, lim.Cur, nil
}
