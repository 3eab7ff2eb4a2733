//go:build linux

package crashguard

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// The test program waits until its monitor runs (it prints "gocrash:
// monitor up") before its mode: Install starts the monitor in the
// background, and a crash in the first milliseconds, before it is up, is
// delivered by the next start instead.

// monitorDeadline bounds every wait for a monitor in these tests; the
// monitor itself takes milliseconds.
const monitorDeadline = 30 * time.Second

// monitorPID finds the monitor of run id by its argv ("crashguard-monitor
// run=<id> …"), 0 when there is none. Under QEMU user emulation through
// binfmt_misc the argv the kernel shows starts with the interpreter and the
// program's path: the monitor's argv[0] is then a later argument.
func monitorPID(t *testing.T, id string) int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		want := "crashguard-monitor run=" + id + " "
		if err == nil && (strings.HasPrefix(string(b), want) || strings.Contains(string(b), "\x00"+want)) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

// mainException is the event's last exception value, the one Sentry titles
// a single exception by.
func mainException(ev map[string]any) map[string]any {
	values := ev["exception"].(map[string]any)["values"].([]any)
	return values[len(values)-1].(map[string]any)
}

// runIDOf is the run id a test program printed ("… run=<id> …").
func runIDOf(t *testing.T, stdout string) string {
	t.Helper()
	_, rest, ok := strings.Cut(stdout, "run=")
	require.True(t, ok, "no run id in %q", stdout)
	id, _, _ := strings.Cut(rest, " ")
	require.True(t, runfile.ValidID(id), "run id %q", id)
	return id
}

// waitMonitorGone waits until run id's monitor has exited.
func waitMonitorGone(t *testing.T, id string) {
	t.Helper()
	require.Eventually(t, func() bool { return monitorPID(t, id) == 0 }, monitorDeadline, 5*time.Millisecond,
		"the monitor of run %s did not exit", id)
}

func TestMonitorDeliversWithoutALaterStart(t *testing.T) {
	for _, c := range []struct {
		name, mode, excValue string
		cgo                  bool
		exit                 int
	}{
		{"go-panic", "panic-main", "gocrash: deliberate panic in main", false, 2},
		{"fatal-error", "concurrent-map", "concurrent map writes", false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := testprogCgo(t, "gocrash", c.cgo)
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir := t.TempDir()
			res := runChild(t, bin, dir, []string{"GOCRASH_MONITOR=1", "SENTRY_DSN=" + recv.DSN()}, c.mode)
			ended := time.Now()
			require.Equal(t, c.exit, res.exit, res.stderr)
			require.Contains(t, res.stdout, "gocrash: monitor up")
			id := runIDOf(t, res.stdout)

			ctx, cancel := context.WithTimeout(context.Background(), monitorDeadline)
			defer cancel()
			evs, err := recv.WaitEvents(ctx, 1)
			require.NoError(t, err, "no event without a later start")
			t.Logf("crash -> event at the receiver: %v", time.Since(ended).Round(time.Millisecond))
			assert.Equal(t, c.excValue, mainException(evs[0].Event)["value"])

			waitMonitorGone(t, id)
			ids, err := runfile.List(filepath.Join(dir, "runs"))
			require.NoError(t, err)
			assert.Empty(t, ids, "the monitor removed the run once its report was out")
			pending, err := newTestGuard(t, dir, "").Pending()
			require.NoError(t, err)
			assert.Empty(t, pending)
			assert.Equal(t, 1, recv.Counts().Requests, "one post, no retry, no duplicate")
		})
	}
}

func TestMonitorRemovesACleanRunAtOnce(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	dir := t.TempDir()
	res := runChild(t, bin, dir, []string{"GOCRASH_MONITOR=1"}, "return")
	require.Equal(t, 0, res.exit, res.stderr)
	require.Contains(t, res.stdout, "gocrash: monitor up")
	id := runIDOf(t, res.stdout)
	waitMonitorGone(t, id)
	entries, err := os.ReadDir(filepath.Join(dir, "runs"))
	require.NoError(t, err)
	assert.Empty(t, entries, "a clean run leaves nothing behind")
}

// TestMonitorSurvivesCtrlCAndCarriesNoDSN starts a program in a process
// group of its own, as a shell does, finds its monitor, checks what others
// can read of it, then sends SIGINT to the whole group (a Ctrl-C): the
// program panics on it, and the monitor, in a session of its own that
// ignores SIGINT anyway, delivers.
func TestMonitorSurvivesCtrlCAndCarriesNoDSN(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "panic-on-sigint")
	cmd.Env = append(baseEnv(), "CRASHGUARD_DIR="+dir, "GOCRASH_MONITOR=1", "SENTRY_DSN="+recv.DSN())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var id string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "run=") {
			id = runIDOf(t, sc.Text())
		}
		if strings.Contains(sc.Text(), "waiting for SIGINT") {
			break
		}
	}
	require.NotEmpty(t, id)
	var pid int
	require.Eventually(t, func() bool { pid = monitorPID(t, id); return pid != 0 }, monitorDeadline, 5*time.Millisecond)

	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	require.NoError(t, err)
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	require.NoError(t, err)
	for _, b := range [][]byte{environ, cmdline} {
		assert.NotContains(t, string(b), recv.Key(), "the DSN's key is readable by others")
		assert.NotContains(t, string(b), "SENTRY_DSN")
	}
	sid, err := unixGetsid(pid)
	require.NoError(t, err)
	assert.Equal(t, pid, sid, "the monitor leads a session of its own")

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.ExitCode())
	evs, err := recv.WaitEvents(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "gocrash: panic after SIGINT", mainException(evs[0].Event)["value"])
	waitMonitorGone(t, id)
}

func TestMonitorGivesUpAtItsDeadlineAndKeepsTheReport(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	recv.Slow(time.Hour)
	dir := t.TempDir()
	res := runChild(t, bin, dir, []string{"GOCRASH_MONITOR=1", "GOCRASH_MONITOR_TIMEOUT=500ms", "SENTRY_DSN=" + recv.DSN()}, "panic-main")
	require.Equal(t, 2, res.exit, res.stderr)
	require.Contains(t, res.stdout, "gocrash: monitor up")
	id := runIDOf(t, res.stdout)
	start := time.Now()
	waitMonitorGone(t, id)
	t.Logf("monitor gone %v after the crash with a Sentry that never answers", time.Since(start).Round(time.Millisecond))
	pending, err := newTestGuard(t, dir, "").Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "the report waits for the next start")
	assert.Equal(t, "gocrash: deliberate panic in main", pending[0].Message)
}

func TestTwoMonitorsDeliverEachReportOnce(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	env := []string{"GOCRASH_MONITOR=1", "SENTRY_DSN=" + recv.DSN()}
	results := make(chan childResult, 2)
	for range 2 {
		go func() { results <- runChild(t, bin, dir, env, "panic-main") }()
	}
	var ids []string
	for range 2 {
		r := <-results
		require.Equal(t, 2, r.exit, r.stderr)
		ids = append(ids, runIDOf(t, r.stdout))
	}
	for _, id := range ids {
		waitMonitorGone(t, id)
	}
	evs := recv.Events()
	require.Len(t, evs, 2, "each crash exactly once, though each monitor collects every dead run")
	assert.NotEqual(t, evs[0].Event["event_id"], evs[1].Event["event_id"])
	assert.Equal(t, 2, recv.Counts().Requests)
}

func TestCommandDeliversADirsPendingReports(t *testing.T) {
	gocrash := testprogCgo(t, "gocrash", false)
	cmd := testprogCgo(t, "crashguard/cmd/crashguard", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	crashOnce(t, gocrash, dir)
	crashOnce(t, gocrash, dir)

	list := runChild(t, cmd, dir, nil, "list")
	require.Equal(t, 0, list.exit, list.stderr)
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Contains(t, l, "panic: gocrash: deliberate panic in main")
	}
	eventID, _, _ := strings.Cut(lines[0], " ")
	show := runChild(t, cmd, dir, nil, "show", eventID)
	require.Equal(t, 0, show.exit, show.stderr)
	assert.Contains(t, show.stdout, `"EventID": "`+eventID+`"`)

	noDSN := runChild(t, cmd, dir, nil, "deliver")
	assert.Equal(t, 1, noDSN.exit)
	assert.Contains(t, noDSN.stderr, "crashguard: no Sentry DSN; reports kept on disk")

	deliver := runChild(t, cmd, dir, []string{"SENTRY_DSN=" + recv.DSN()}, "deliver")
	require.Equal(t, 0, deliver.exit, deliver.stderr)
	assert.Equal(t, "crashguard: nothing pending\n", deliver.stdout)
	assert.Len(t, recv.Events(), 2)
	list = runChild(t, cmd, dir, nil, "list")
	assert.Empty(t, list.stdout)
}

func unixGetsid(pid int) (int, error) {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(sid), nil
}
