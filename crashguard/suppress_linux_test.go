//go:build linux

package crashguard

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/osdump"
)

// requirePlainCores skips unless a crashing child would leave a plain core
// file in its working directory (core_pattern without a pipe or path) and
// the hard core limit allows one.
func requirePlainCores(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	require.NoError(t, err)
	pattern := strings.TrimSpace(string(b))
	if strings.HasPrefix(pattern, "|") || strings.Contains(pattern, "/") {
		t.Skipf("core_pattern %q does not write plain files in the working directory", pattern)
	}
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_CORE, &lim))
	if lim.Max == 0 {
		t.Skip("hard RLIMIT_CORE is 0: no core file can be written here")
	}
}

// cores lists the core files in dir.
func cores(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Name() == "core" || strings.HasPrefix(e.Name(), "core.") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

type coreCase struct {
	name string
	prog string
	env  []string
	args []string
	// suppressed says whether suppression is in effect at the crash.
	suppressed bool
	// exit and signal without suppression / with it.
	exit   int
	signal syscall.Signal
}

func TestOSCrashDumpSuppression(t *testing.T) {
	requirePlainCores(t)
	coreEnv := "CRASHGUARD_TEST_CORE=1" // testprogs/internal/corelimit.Env
	cfault := []string{"-mode", "c-null-pthread", "-crashguard"}
	cases := []coreCase{
		{name: "c-fault-pthread/off", prog: "cgocrash", args: cfault, exit: -1, signal: syscall.SIGSEGV},
		// The handler ends the process itself once the record is complete.
		{name: "c-fault-pthread/on", prog: "cgocrash", args: append(cfault, "-suppress-os"), suppressed: true, exit: 128 + 11},
		{name: "c-fault-pthread/toggled-on", prog: "cgocrash", args: append(cfault, "-toggle", "on"), suppressed: true, exit: 128 + 11},
		{name: "c-fault-pthread/toggled-off", prog: "cgocrash", args: append(cfault, "-suppress-os", "-toggle", "off"), exit: -1, signal: syscall.SIGSEGV},
		// Go re-raises SIGABRT at SIG_DFL: out of the handler's reach, so
		// PR_SET_DUMPABLE=0 is what stops the core.
		{name: "gotraceback-crash/off", prog: "gocrash", env: []string{"GOTRACEBACK=crash"}, args: []string{"panic-main"}, exit: -1, signal: syscall.SIGABRT},
		{name: "gotraceback-crash/on", prog: "gocrash", env: []string{"GOTRACEBACK=crash", "GOCRASH_SUPPRESS=1"}, args: []string{"panic-main"}, suppressed: true, exit: -1, signal: syscall.SIGABRT},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := testprog(t, c.prog)
			dir := t.TempDir()
			got := runChildIn(t, bin, dir, append([]string{coreEnv}, c.env...), c.args...)
			assert.Equal(t, c.exit, got.result.exit, "exit status; stderr:\n%s", got.result.stderr)
			assert.Equal(t, c.signal, got.result.signal)
			found := cores(t, got.cwd)
			if c.suppressed {
				assert.Empty(t, found, "no core file with suppression on")
			} else {
				assert.Len(t, found, 1, "a core file with suppression off, exactly as without crashguard")
			}

			g := newTestGuard(t, dir, "")
			pending, err := g.Pending()
			require.NoError(t, err)
			require.Len(t, pending, 1, "the report is there either way")
			r, err := g.outbox.Load(pending[0].EventID)
			require.NoError(t, err)
			assert.Equal(t, c.suppressed, r.OSReportSuppressed)
			if c.prog == "cgocrash" {
				require.NotNil(t, r.Native, "a complete record before the end")
				assert.Equal(t, 11, r.Native.Signal)
				assert.True(t, r.Native.Fatal)
				assert.NotEmpty(t, r.Native.Frames)
			}
		})
	}
}

func TestSuppressionToggleRestoresExactlyWhatWasFound(t *testing.T) {
	// The test process itself: Suppress then restore must leave its
	// dumpable flag and core limit as they were.
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_CORE, &lim))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim) })
	raised := lim
	raised.Cur = min(lim.Max, 1<<30)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_CORE, &raised))
	d0, c0, err := osdump.Current()
	require.NoError(t, err)

	g := newTestGuard(t, t.TempDir(), "")
	require.NoError(t, g.SuppressOSCrashReports(true))
	d, c, err := osdump.Current()
	require.NoError(t, err)
	assert.Equal(t, 0, d)
	assert.Zero(t, c)
	require.NoError(t, g.SuppressOSCrashReports(true), "switching on twice is a no-op")

	require.NoError(t, g.SuppressOSCrashReports(false))
	d, c, err = osdump.Current()
	require.NoError(t, err)
	assert.Equal(t, d0, d, "PR_GET_DUMPABLE restored")
	assert.Equal(t, c0, c, "RLIMIT_CORE restored")
}
