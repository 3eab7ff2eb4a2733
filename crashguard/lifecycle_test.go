//go:build unix

package crashguard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// dirNames lists dir, sorted; a missing dir is empty.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

// 1,000 quick clean runs in a row, real processes that return right after
// Install (no monitor, no time for a background pass): each start takes the
// previous dead run over, so runs/ holds exactly one run's two files (run
// file and flight recorder) after every one of them.
func TestThousandQuickCleanRunsKeepRunsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 processes")
	}
	bin := testprog(t, "gocrash")
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	most := 0
	n := 1000
	if e := emulation(); e != "" {
		n = 100 // a process start is ~50x slower under emulation
		t.Logf("under %s: %d runs", e, n)
	}
	for i := range n {
		res := runChild(t, bin, dir, nil, "return")
		require.Equal(t, 0, res.exit, "run %d: %s", i, res.stderr)
		names := dirNames(t, runs)
		most = max(most, len(names))
		// One run's files: its run file, flight recorder and, when its
		// background goroutine got to create it, its scope file.
		require.LessOrEqual(t, len(names), 3, "after run %d: %v", i, names)
	}
	names := dirNames(t, runs)
	require.GreaterOrEqual(t, len(names), 2)
	for _, n := range names {
		assert.True(t, strings.HasSuffix(n, ".flight") || strings.HasSuffix(n, ".run") || strings.HasSuffix(n, ".scope"), "%v", names)
	}
	t.Logf("files in runs/ after each of %d clean runs: at most %d", n, most)
}

// A crash loop through real processes: 20 panics of the same place, then a
// start that delivers (Flush). The first LoopFull reports go out in full,
// the rest are counted, and every crash is accounted for: the events plus
// the folded counts they carry plus what waits to be carried add up to 20.
// The outbox ends empty, runs/ with the last start's own clean run.
func TestCrashLoopThroughProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("crashing processes")
	}
	bin := testprog(t, "gocrash")
	dir := t.TempDir()
	recv := sentrytest.New()
	defer recv.Close()
	const crashes = 20
	for range crashes {
		res := runChild(t, bin, dir, nil, "panic-main")
		require.Equal(t, 2, res.exit, res.stderr)
	}
	// A pass builds at most 16 runs: flush until none is left.
	for range 3 {
		res := runChild(t, bin, dir, []string{"SENTRY_DSN=" + recv.DSN()}, "flush")
		require.Equal(t, 0, res.exit, res.stderr)
	}
	// Only the last flush's own (clean) run is left, for the next start to
	// take over.
	assert.Len(t, withoutScope(dirNames(t, filepath.Join(dir, "runs"))), 2)

	events := recv.Events()
	require.Len(t, events, outbox.DefaultLoopFull, "the first reports of the loop, in full")
	carried := 0
	for _, e := range events {
		cg := e.Event["contexts"].(map[string]any)["crashguard"].(map[string]any)
		if n, ok := cg["folded_crashes"].(json.Number); ok {
			v, err := n.Int64()
			require.NoError(t, err)
			carried += int(v)
		}
	}
	// What no event carried yet waits in the crash-loop file for the
	// first report of this crash after the hour.
	waiting := 0
	b, err := os.ReadFile(filepath.Join(dir, "outbox", "crashloop.json"))
	require.NoError(t, err)
	var lf struct {
		Fingerprints map[string]struct{ Folded int } `json:"fingerprints"`
	}
	require.NoError(t, json.Unmarshal(b, &lf))
	require.Len(t, lf.Fingerprints, 1, "one crash, one fingerprint")
	for _, e := range lf.Fingerprints {
		waiting += e.Folded
	}
	assert.Equal(t, crashes, len(events)+carried+waiting, "events %d, carried %d, waiting %d", len(events), carried, waiting)
	assert.Positive(t, carried, "the events sent say how many crashes they stand for")
	ob, err := outbox.Open(filepath.Join(dir, "outbox"), outbox.Options{})
	require.NoError(t, err)
	pending, err := ob.List()
	require.NoError(t, err)
	assert.Empty(t, pending)
}

// A C fault in a run that took over a dead clean run's files is recorded in
// the recorder it took over, like in a new one: one report, with the native
// record of this process and nothing of the earlier one.
func TestCFaultInATakenOverRecorder(t *testing.T) {
	gocrash, cgocrash := testprog(t, "gocrash"), testprog(t, "cgocrash")
	dir := t.TempDir()
	for range 2 {
		require.Equal(t, 0, runChild(t, gocrash, dir, nil, "return").exit)
	}
	// The scope file is there or not, as the run's background goroutine
	// got to create it: only the run file and the recorder count here.
	before := withoutScope(dirNames(t, filepath.Join(dir, "runs")))
	require.Len(t, before, 2)
	got := runChild(t, cgocrash, dir, nil, "-mode", "c-null-pthread", "-tmp", t.TempDir(), "-crashguard")
	require.Contains(t, got.stdout, "layers=crash-output+signal-chain+flight-recorder", "stderr:\n%s", got.stderr)
	after := withoutScope(dirNames(t, filepath.Join(dir, "runs")))
	require.Len(t, after, 2, "the crashing run took the clean run over")
	assert.NotEqual(t, before, after)

	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "stderr:\n%s", got.stderr)
	r, err := g.outbox.Load(pending[0].EventID)
	require.NoError(t, err)
	assert.Equal(t, got.pid, r.Process.PID)
	require.NotNil(t, r.Native)
	assert.Equal(t, 11, r.Native.Signal)
	assert.True(t, r.Native.Fatal)
	assert.NotEmpty(t, r.Native.Frames)
	require.NotEmpty(t, r.Images)
	for _, im := range r.Images {
		assert.NotEqual(t, filepath.Base(gocrash), filepath.Base(im.Path), "an image of the earlier process: %+v", im)
		if im.IsMain {
			assert.Equal(t, filepath.Base(cgocrash), filepath.Base(im.Path))
		}
	}
}

// withoutScope leaves out scope files (runfile.ScopeName).
func withoutScope(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.HasSuffix(n, "."+runfile.ScopeName) {
			out = append(out, n)
		}
	}
	return out
}
