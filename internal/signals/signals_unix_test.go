//go:build linux || darwin

package signals

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// The tables of the OS the test runs on agree with its syscall package and
// with golang.org/x/sys/unix (generated from the system headers).
func TestNumberMatchesThisKernel(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{
		"SIGHUP": syscall.SIGHUP, "SIGQUIT": syscall.SIGQUIT, "SIGILL": syscall.SIGILL,
		"SIGTRAP": syscall.SIGTRAP, "SIGABRT": syscall.SIGABRT, "SIGBUS": syscall.SIGBUS,
		"SIGFPE": syscall.SIGFPE, "SIGSEGV": syscall.SIGSEGV, "SIGPIPE": syscall.SIGPIPE,
		"SIGTERM": syscall.SIGTERM, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
		"SIGCHLD": syscall.SIGCHLD, "SIGSYS": syscall.SIGSYS, "SIGURG": syscall.SIGURG,
		"SIGPROF": syscall.SIGPROF, "SIGIO": syscall.SIGIO, "SIGSTOP": syscall.SIGSTOP,
	} {
		assert.Equal(t, int(sig), Number(runtime.GOOS, name), name)
	}
	for n := 1; n <= 31; n++ {
		assert.Equal(t, unix.SignalName(syscall.Signal(n)), Name(runtime.GOOS, n), n)
	}
}
