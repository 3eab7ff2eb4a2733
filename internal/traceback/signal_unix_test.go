//go:build linux || darwin

package traceback

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSignalNumberMatchesThisKernel(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{
		"SIGHUP": syscall.SIGHUP, "SIGQUIT": syscall.SIGQUIT, "SIGILL": syscall.SIGILL,
		"SIGTRAP": syscall.SIGTRAP, "SIGABRT": syscall.SIGABRT, "SIGBUS": syscall.SIGBUS,
		"SIGFPE": syscall.SIGFPE, "SIGSEGV": syscall.SIGSEGV, "SIGPIPE": syscall.SIGPIPE,
		"SIGTERM": syscall.SIGTERM, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
		"SIGCHLD": syscall.SIGCHLD, "SIGSYS": syscall.SIGSYS, "SIGURG": syscall.SIGURG,
		"SIGPROF": syscall.SIGPROF, "SIGIO": syscall.SIGIO, "SIGSTOP": syscall.SIGSTOP,
	} {
		assert.Equal(t, int(sig), SignalNumber(runtime.GOOS, name), name)
	}
}
