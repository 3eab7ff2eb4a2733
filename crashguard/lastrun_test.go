//go:build unix

package crashguard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

var (
	installedRE = regexp.MustCompile(`gocrash: installed run=(\S+)`)
	lastRunRE   = regexp.MustCompile(`gocrash: lastrun known=(\w+) crashed=(\w+) run=(\S*)(?: kind=(\S+) event=(\S+) message=(".*"))?`)
)

// lastRunOf runs gocrash in mode and returns its run id and, for the
// lastrun mode, what it printed of LastRun: known, crashed, previous run,
// kind, event id, quoted message.
func lastRunOf(t *testing.T, bin, dir string, env []string, mode string, exit int) (run string, lr []string) {
	t.Helper()
	got := runChild(t, bin, dir, env, mode)
	require.Equal(t, exit, got.exit, "%s: stdout:\n%s\nstderr:\n%s", mode, got.stdout, got.stderr)
	m := installedRE.FindStringSubmatch(got.stdout)
	require.NotNil(t, m, "stdout:\n%s", got.stdout)
	if mode == "lastrun" {
		assert.NotContains(t, got.stdout, "lastrun error", got.stdout)
		lm := lastRunRE.FindStringSubmatch(got.stdout)
		require.NotNil(t, lm, "stdout:\n%s", got.stdout)
		lr = lm[1:]
	}
	return m[1], lr
}

// TestLastRun: a sequence of real starts of one program in one directory,
// each asking LastRun about the one before: nothing known at first; a
// clean end; a panic whose run never called LastRun, found through its
// crash (its report still waiting in the outbox, the answer's event id
// the report's); the clean run after it, so the crash is no longer the
// previous run; a concurrent-map fatal error; and with the monitor, a
// crash collected and delivered before the next start, still known.
func TestLastRun(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	dir := t.TempDir()
	recv := sentrytest.New()
	t.Cleanup(recv.Close)

	first, lr := lastRunOf(t, bin, dir, nil, "lastrun", 0)
	assert.Equal(t, []string{"false", "false", "", "", "", ""}, lr, "first start: nothing known")

	second, lr := lastRunOf(t, bin, dir, nil, "lastrun", 0)
	assert.Equal(t, []string{"true", "false", first, "", "", ""}, lr, "after a clean run")
	assert.Less(t, first, second)

	crashed, _ := lastRunOf(t, bin, dir, nil, "panic-main", 2)
	third, lr := lastRunOf(t, bin, dir, nil, "lastrun", 0)
	require.Equal(t, []string{"true", "true", crashed, "panic"}, lr[:4], "after a panic")
	assert.Equal(t, fmt.Sprintf("%q", "gocrash: deliberate panic in main"), lr[5])
	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "the crash is still waiting (no DSN)")
	assert.Equal(t, pending[0].EventID, lr[4], "the answer's report is the report")
	assert.Equal(t, crashed, pending[0].RunID)

	_, lr = lastRunOf(t, bin, dir, nil, "lastrun", 0)
	assert.Equal(t, []string{"true", "false", third, "", "", ""}, lr, "the run after the crash ended cleanly")

	mapRun, _ := lastRunOf(t, bin, dir, nil, "concurrent-map", 2)
	_, lr = lastRunOf(t, bin, dir, nil, "lastrun", 0)
	assert.Equal(t, []string{"true", "true", mapRun, "fatal_error"}, lr[:4], "after a fatal error")

	// With the monitor: the crash is collected and delivered at once,
	// before the next start, which still knows it.
	mon := []string{"GOCRASH_MONITOR=1", "SENTRY_DSN=" + recv.DSN()}
	monRun, _ := lastRunOf(t, bin, dir, mon, "panic-main", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Wait for its note, then for its event at the receiver and for its
	// report to leave the outbox: delivered before the next start.
	var monEvent string
	for monEvent == "" && ctx.Err() == nil {
		log, _ := readCrashLog(dir)
		for _, e := range log {
			if e.RunID == monRun {
				monEvent = e.Report.EventID
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if monEvent == "" {
		runs, _ := os.ReadDir(filepath.Join(dir, "runs"))
		log, err := readCrashLog(dir)
		t.Fatalf("the monitor did not note the crash of %s within a minute: runs/ %v, crash log %v (%v)", monRun, runs, log, err)
	}
	waitEvent(t, recv, monEvent)
	for ctx.Err() == nil {
		if _, err := os.Stat(filepath.Join(dir, "outbox", monEvent+".json")); os.IsNotExist(err) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, lr = lastRunOf(t, bin, dir, nil, "lastrun", 0)
	assert.Equal(t, []string{"true", "true", monRun, "panic", monEvent}, lr[:5], "after a crash the monitor delivered")
}

func panicReportFor(runID string) *report.Report {
	return &report.Report{FormatVersion: report.FormatVersion, EventID: strings.Repeat("ab", 16),
		RunID: runID, Kind: report.KindPanic, Message: "boom"}
}

// TestPreviousRun: the choice among the recorded start and the crashes.
func TestPreviousRun(t *testing.T) {
	const (
		a    = "20261202T000001.000000000Z-1-aaaaaaaaaaaa"
		b    = "20261202T000002.000000000Z-2-bbbbbbbbbbbb"
		c    = "20261202T000003.000000000Z-3-cccccccccccc"
		self = "20261202T000004.000000000Z-4-dddddddddddd"
		late = "20261202T000005.000000000Z-5-eeeeeeeeeeee"
	)
	crash := func(id string) crashEntry { return crashEntry{RunID: id, Report: Report{RunID: id, Kind: "panic"}} }
	for _, x := range []struct {
		name    string
		prev    string
		crashes []crashEntry
		want    string
		crashed bool
	}{
		{"nothing", "", nil, "", false},
		{"clean", b, nil, b, false},
		{"recorded start crashed", b, []crashEntry{crash(a), crash(b)}, b, true},
		{"older crash", b, []crashEntry{crash(a)}, b, false},
		{"unrecorded later crash", a, []crashEntry{crash(c), crash(b)}, c, true},
		{"only crashes", "", []crashEntry{crash(b), crash(a)}, b, true},
		{"a run started after this one", late, []crashEntry{crash(late)}, "", false},
		{"self", self, nil, "", false},
	} {
		t.Run(x.name, func(t *testing.T) {
			var prev *lastStart
			if x.prev != "" {
				prev = &lastStart{RunID: x.prev}
			}
			got := previousRun(self, prev, x.crashes)
			assert.Equal(t, x.want, got.RunID)
			assert.Equal(t, x.want != "", got.Known)
			assert.Equal(t, x.crashed, got.Crashed)
			assert.Equal(t, x.crashed, got.Report != nil)
		})
	}
}

// TestNoteCrash: the log keeps each run once and the newest crashLogMax;
// a damaged log is replaced.
func TestNoteCrash(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, crashLogFile), []byte("\x00\x00garbage"), 0o600))
	_, err := readCrashLog(dir)
	assert.Error(t, err)
	var ids []string
	for i := 0; i < crashLogMax+3; i++ {
		r := panicReportFor(fmt.Sprintf("20261202T0000%02d.000000000Z-1-aaaaaaaaaaaa", i))
		require.NoError(t, noteCrash(dir, r))
		require.NoError(t, noteCrash(dir, r))
		ids = append(ids, r.RunID)
	}
	log, err := readCrashLog(dir)
	require.NoError(t, err)
	require.Len(t, log, crashLogMax)
	for i, e := range log {
		assert.Equal(t, ids[3+i], e.RunID)
	}
	fi, err := os.Stat(filepath.Join(dir, crashLogFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
