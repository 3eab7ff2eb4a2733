//go:build unix

// Package corelimit lets a test program raise its own core file limit, so
// that the tests of OS crash dump suppression can see a core file appear (or
// not) without raising the limit of the test process and its other children.
package corelimit

import (
	"fmt"
	"os"
	"syscall"
)

// Env is the variable that asks for it.
const Env = "CRASHGUARD_TEST_CORE"

// RaiseFromEnv raises the soft RLIMIT_CORE to the hard limit when Env is
// "1". Call it first in main, before crashguard.Install reads the limit.
func RaiseFromEnv() {
	if os.Getenv(Env) != "1" {
		return
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err == nil {
		lim.Cur = lim.Max
		err = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
		if err == nil {
			return
		}
	}
	fmt.Fprintln(os.Stderr, "corelimit: cannot raise RLIMIT_CORE")
	os.Exit(70)
}
