package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// nextEvent numbers the event ids of startRuns's runs.
var nextEvent int

// startRuns starts n runs at once (all alive while the others start, so
// none takes another over), each with a recorder, and ends them as an exit
// does (lock dropped, files left). crash is appended to the first crashes
// of them before they end.
func startRuns(t *testing.T, runs string, n, crashes int, crash string) []string {
	t.Helper()
	var started []*runfile.Run
	for i := range n {
		nextEvent++ // a new event id for each run
		r, err := runfile.Start(runs, &runfile.Meta{EventID: fmt.Sprintf("%032x", nextEvent),
			Process: report.Process{PID: os.Getpid(), StartTime: time.Now(), GOOS: "linux"}})
		require.NoError(t, err)
		require.False(t, r.Reused)
		require.NoError(t, flightrec.Create(r.Path(runfile.FlightName)))
		if i < crashes {
			_, err = r.CrashFile.WriteString(crash)
			require.NoError(t, err)
		}
		started = append(started, r)
	}
	var ids []string
	for _, r := range started {
		require.NoError(t, r.CrashFile.Close())
		ids = append(ids, r.ID)
	}
	return ids
}

const goPanic = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x1d\nexit status 2\n"

// A pass examines at most DefaultMaxRunsPerPass runs, and removes the clean
// ones among them without parsing; the next pass goes on from there.
func TestPassIsBoundedAndCleanRunsGoWithoutParsing(t *testing.T) {
	f := newFixture(t)
	startRuns(t, f.runs, 300, 0, "")
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Clean: DefaultMaxRunsPerPass, Left: 300 - DefaultMaxRunsPerPass}, res)
	for left := 300 - DefaultMaxRunsPerPass; left > 0; left -= DefaultMaxRunsPerPass {
		res, err = f.c.CollectAll()
		require.NoError(t, err)
		assert.Equal(t, Result{Clean: min(left, DefaultMaxRunsPerPass), Left: max(left-DefaultMaxRunsPerPass, 0)}, res)
	}
	des, err := os.ReadDir(f.runs)
	require.NoError(t, err)
	assert.Empty(t, des, "every run's files removed")
	assert.Empty(t, f.pending(t))
}

// Runs that need parsing are bounded separately: clean ones still go.
func TestPassBuildsAtMostMaxBuilds(t *testing.T) {
	f := newFixture(t)
	startRuns(t, f.runs, 30, 20, goPanic) // 20 crashes, then 10 clean runs
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: DefaultMaxBuildsPerPass, Clean: 10, Left: 20 - DefaultMaxBuildsPerPass}, res)
	res, err = f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: 20 - DefaultMaxBuildsPerPass}, res)
	assert.Len(t, f.pending(t), outbox.DefaultLoopFull, "the same crash 20 times is a crash loop: folded")
	assert.Empty(t, f.runsLeft(t))
}

// 1,000 quick clean runs in a row, each ending before any collection, leave
// one run's files: every start takes the previous one over. A collector
// pass then leaves nothing.
func TestThousandQuickCleanRunsStayBounded(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no take-over on Windows (runfile.canRenameOpen): passes remove the runs")
	}
	f := newFixture(t)
	for i := range 1000 {
		r, err := runfile.Start(f.runs, &runfile.Meta{EventID: fmt.Sprintf("%032x", i+1),
			Process: report.Process{PID: os.Getpid(), StartTime: time.Now()}})
		require.NoError(t, err)
		require.NoError(t, flightrec.Create(r.Path(runfile.FlightName)))
		require.NoError(t, r.CrashFile.Close())
		des, err := os.ReadDir(f.runs)
		require.NoError(t, err)
		require.Len(t, des, 2, "after run %d", i)
	}
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Clean: 1}, res)
	des, err := os.ReadDir(f.runs)
	require.NoError(t, err)
	assert.Empty(t, des)
}

// A recorder in which a record was claimed is decoded the full way: a
// recovered fault in Go code is no crash, and the run is removed as clean.
func TestUsedRecorderIsDecoded(t *testing.T) {
	f := newFixture(t)
	ids := startRuns(t, f.runs, 1, 0, "")
	path := filepath.Join(f.runs, ids[0]+"."+runfile.FlightName)
	fl, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = fl.WriteAt([]byte{1}, 88) // header.next_seq
	require.NoError(t, err)
	require.NoError(t, fl.Close())
	f.c.MaxBuilds = 1
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Clean: 1}, res)
}

// A crash loop of 1,000 crashes, each collected by the next start (real
// dead runs, one pass each): the outbox keeps DefaultLoopFull reports and
// counts the other 997 for the next event of that crash to carry; runs/ is
// left empty.
func TestCrashLoopOfThousandThroughRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs")
	}
	f := newFixture(t)
	reports := 0
	for i := range 1000 {
		startRuns(t, f.runs, 1, 1, goPanic)
		res, err := f.c.CollectAll()
		require.NoError(t, err)
		reports += res.Reports
		require.Equal(t, 1, res.Reports, "crash %d", i)
	}
	assert.Equal(t, 1000, reports, "every crash accounted for")
	assert.Len(t, f.pending(t), outbox.DefaultLoopFull)
	assert.Empty(t, f.runsLeft(t))
	assert.Equal(t, outbox.DefaultLoopFull, strings.Count(f.log.String(), `msg="crashguard: crash collected" `))
	assert.Equal(t, 1000-outbox.DefaultLoopFull, strings.Count(f.log.String(), "folded into its crash loop's count"))
	r, err := f.ob.Load(f.pending(t)[0].ID)
	require.NoError(t, err)
	c, err := f.ob.TakeFolded(r)
	require.NoError(t, err)
	assert.Equal(t, 1000-outbox.DefaultLoopFull, c.Folded)
}

func TestCollectUntilDoneTakesEveryRun(t *testing.T) {
	f := newFixture(t)
	startRuns(t, f.runs, 300, 40, goPanic) // 40 crashes, 260 clean runs
	res, err := f.c.CollectUntilDone(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: 40, Clean: 260}, res)
	assert.Empty(t, f.runsLeft(t))

	startRuns(t, f.runs, 20, 20, goPanic)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err = f.c.CollectUntilDone(ctx)
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: DefaultMaxBuildsPerPass, Left: 20 - DefaultMaxBuildsPerPass}, res, "one pass, then the context")
}

// BenchmarkCleanRun measures telling that a dead run (with a flight
// recorder) ended cleanly: NoEvidence against building it the full way
// (what every clean run cost before). Claim included, removal not.
func BenchmarkCleanRun(b *testing.B) {
	for _, quick := range []bool{true, false} {
		b.Run(map[bool]string{true: "no-evidence", false: "build"}[quick], func(b *testing.B) {
			runs := filepath.Join(b.TempDir(), "runs")
			for b.Loop() {
				b.StopTimer()
				r, err := runfile.Start(runs, &runfile.Meta{EventID: "0123456789abcdef0123456789abcdef",
					Process: report.Process{PID: os.Getpid(), StartTime: time.Now(), GOOS: "linux"}})
				if err != nil {
					b.Fatal(err)
				}
				if err := flightrec.Create(r.Path(runfile.FlightName)); err != nil {
					b.Fatal(err)
				}
				r.CrashFile.Close()
				b.StartTimer()
				d, err := runfile.Claim(runs, r.ID)
				if err != nil {
					b.Fatal(err)
				}
				if quick {
					if !d.NoEvidence() {
						b.Fatal("evidence")
					}
				} else if o, err := Build(d, DefaultMaxCrashOutput); err != nil || o.Report != nil {
					b.Fatal(err)
				}
				b.StopTimer() // removal costs the same either way
				if err := d.Remove(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
