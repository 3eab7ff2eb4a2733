//go:build unix

package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/testprog"
)

// crash10k is the dead run that testprogs/gocrash panic-10k leaves: a real
// crashguard run (Install, runfile.Start, the native layer's flight
// recorder) of a program that panicked with 10,000 goroutines parked on a
// channel, under GOTRACEBACK=all. Its files are kept in memory and written
// out again for every run a benchmark needs.
//
// A run made in-process with runfile.Start cannot be used: its flock is held
// by the Run's own descriptor until the process ends. A copy of a dead run's
// files is a dead run (no one holds the copied run file's lock), which is
// exactly what Claim sees after a crash.
var crash10k struct {
	once  sync.Once
	err   error
	id    string
	files map[string][]byte
}

const goroutines10k = 10000

func deadRun10k(b *testing.B) (id string, files map[string][]byte) {
	b.Helper()
	crash10k.once.Do(func() { crash10k.id, crash10k.files, crash10k.err = makeDeadRun10k() })
	require.NoError(b, crash10k.err)
	return crash10k.id, crash10k.files
}

func makeDeadRun10k() (string, map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "collector-bench-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := testprog.Build(ctx, "gocrash", tmp, true)
	if err != nil {
		return "", nil, err
	}

	cg := filepath.Join(tmp, "cg")
	run := exec.CommandContext(ctx, bin, "panic-10k")
	run.Dir = tmp
	run.Env = append(testprog.CleanEnv(), "CRASHGUARD_DIR="+cg, "GOTRACEBACK=all")
	var stderr bytes.Buffer
	run.Stderr = &stderr
	err = run.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		return "", nil, fmt.Errorf("gocrash panic-10k: want exit status 2, got %v (ctx: %v)\n%.2000s", err, ctx.Err(), stderr.Bytes())
	}

	runs := filepath.Join(cg, "runs")
	ids, err := runfile.List(runs)
	if err != nil || len(ids) != 1 {
		return "", nil, fmt.Errorf("gocrash panic-10k left runs %v (%v), want one", ids, err)
	}
	entries, err := os.ReadDir(runs)
	if err != nil {
		return "", nil, err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(runs, e.Name())); err != nil {
			return "", nil, err
		}
	}
	if n := bytes.Count(files[ids[0]+runfile.RunExt], []byte("\ngoroutine ")); n < goroutines10k {
		return "", nil, fmt.Errorf("crash output holds %d goroutines, want %d", n, goroutines10k)
	}
	return ids[0], files, nil
}

// writeRun lays the files of a run out under runs, as the crashed process
// left them.
func writeRun(b *testing.B, runs, id string, files map[string][]byte) {
	b.Helper()
	require.NoError(b, os.MkdirAll(runs, 0o700))
	for name, data := range files {
		require.NoError(b, os.WriteFile(filepath.Join(runs, name), data, 0o600))
	}
}

// BenchmarkBuild10kGoroutines measures Build on the dead run of a real
// crash with 10,000 goroutines (about 3 MB of GOTRACEBACK=all output plus
// the flight recorder): read, parse, merge, mark in-app. MB/s is crash
// output parsed per second.
func BenchmarkBuild10kGoroutines(b *testing.B) {
	id, files := deadRun10k(b)
	runs := b.TempDir()
	writeRun(b, runs, id, files)
	d, err := runfile.Claim(runs, id)
	require.NoError(b, err)
	defer d.Release()

	b.SetBytes(int64(len(files[id+runfile.RunExt])))
	b.ReportAllocs()
	for b.Loop() {
		o, err := Build(d, DefaultMaxCrashOutput)
		if err != nil || o.Report == nil || o.Damage != nil || o.Report.Kind != report.KindPanic ||
			len(o.Report.Goroutines) < goroutines10k {
			b.Fatalf("Build: %v, outcome %+v", err, o)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/report")
}

// BenchmarkCollectAll10kGoroutines measures one CollectAll pass over that
// dead run into a real outbox: claim, Build, encode, the fsync'd atomic
// write of the report (and whatever shrinking it takes to fit), removal of
// the run. Each iteration gets a fresh copy of the run and a fresh outbox,
// made and removed with the timer stopped (Put skips an event id already
// stored).
func BenchmarkCollectAll10kGoroutines(b *testing.B) {
	id, files := deadRun10k(b)
	base := b.TempDir()
	logger := slog.New(slog.DiscardHandler)
	var reportBytes int64
	b.SetBytes(int64(len(files[id+runfile.RunExt])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		runs := filepath.Join(base, fmt.Sprintf("runs-%d", i))
		writeRun(b, runs, id, files)
		ob, err := outbox.Open(filepath.Join(base, fmt.Sprintf("outbox-%d", i)), outbox.Options{Logger: logger})
		require.NoError(b, err)
		c := &Collector{Runs: runs, Outbox: ob, Logger: logger}
		// Write back what the setup wrote, so that the timed pass pays
		// for its own fsyncs only.
		syscall.Sync()
		b.StartTimer()

		res, err := c.CollectAll()

		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, Result{Reports: 1}, res)
		entries, err := ob.List()
		require.NoError(b, err)
		require.Len(b, entries, 1)
		reportBytes = entries[0].Size
		require.NoError(b, os.RemoveAll(runs))
		require.NoError(b, os.RemoveAll(ob.Dir()))
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/report")
	b.ReportMetric(float64(reportBytes), "report-bytes")
}
