//go:build cgo && linux

package symbolize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/collector"
	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/symbolize"
	"github.com/crashguard/crashguard-go/internal/testprog"
)

// cFault is the dead run that testprogs/cgocrash c-null-pthread leaves: a
// real crashguard run (Install, the native layer's flight recorder) of a
// program killed by a SIGSEGV in C code on a thread Go did not create, so
// the report is made of the flight recorder's record alone and every frame
// of it is symbolized natively. Its files are kept in memory and written out
// again for every run a benchmark needs (a copy of a dead run's files is a
// dead run: no one holds the copy's lock).
var cFault struct {
	once  sync.Once
	err   error
	bin   string
	id    string
	files map[string][]byte
}

func cFaultRun(b *testing.B) (id string, files map[string][]byte) {
	b.Helper()
	if testing.Short() {
		b.Skip("builds and crashes a test program; skipped with -short")
	}
	cFault.once.Do(func() { cFault.bin, cFault.id, cFault.files, cFault.err = makeCFaultRun() })
	require.NoError(b, cFault.err)
	return cFault.id, cFault.files
}

func makeCFaultRun() (bin, id string, files map[string][]byte, err error) {
	dir := filepath.Join(symbolize.TmpDir(), "cfault")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if bin, err = testprog.Build(ctx, "cgocrash", dir, true); err != nil {
		return "", "", nil, err
	}
	cg := filepath.Join(dir, "cg")
	run := exec.CommandContext(ctx, bin, "-mode", "c-null-pthread", "-crashguard", "-tmp", dir)
	run.Dir = dir
	run.Env = append(testprog.CleanEnv(), "CRASHGUARD_DIR="+cg)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	err = run.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		return "", "", nil, fmt.Errorf("cgocrash c-null-pthread: want a death by signal, got %v\n%.2000s", err, stderr.Bytes())
	}
	runs := filepath.Join(cg, "runs")
	ids, err := runfile.List(runs)
	if err != nil || len(ids) != 1 {
		return "", "", nil, fmt.Errorf("cgocrash left runs %v (%v), want one", ids, err)
	}
	entries, err := os.ReadDir(runs)
	if err != nil {
		return "", "", nil, err
	}
	files = map[string][]byte{}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(runs, e.Name())); err != nil {
			return "", "", nil, err
		}
	}
	return bin, ids[0], files, nil
}

// cpuTime is the CPU time (user + system, all threads) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollectCFault measures collector.Build on the dead run of a real
// C fault on a pthread (cgocrash c-null-pthread): read the run and its
// flight recorder, symbolize the native frames from the executable and libc
// on disk, mark in-app. It reports CPU time per report (getrusage, so the
// garbage collector's work on other threads counts) beside wall time.
//
// cold empties the process-wide image cache before every report, as the
// first collection of a process (a monitor, a start) finds it; warm keeps
// it, as the later reports of a pass and later passes of the process do.
func BenchmarkCollectCFault(b *testing.B) {
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			id, files := cFaultRun(b)
			runs := b.TempDir()
			require.NoError(b, os.MkdirAll(runs, 0o700))
			for name, data := range files {
				require.NoError(b, os.WriteFile(filepath.Join(runs, name), data, 0o600))
			}
			d, err := runfile.Claim(runs, id)
			require.NoError(b, err)
			defer d.Release()

			build := func() *report.Report {
				o, err := collector.Build(d, collector.DefaultMaxCrashOutput)
				if err != nil || o.Report == nil || o.Report.Native == nil || len(o.Report.Native.Frames) == 0 {
					b.Fatalf("Build: %v, outcome %+v", err, o)
				}
				return o.Report
			}
			symbolize.ResetCache()
			if mode == "warm" {
				build()
			}
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				if mode == "cold" {
					symbolize.ResetCache()
				}
				start := cpuTime(b)
				r := build()
				cpu += cpuTime(b) - start
				if f := r.Native.Frames[0]; f.Function == "" || f.File == "" || f.Line == 0 {
					b.Fatalf("innermost frame not symbolized: %+v", f)
				}
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/1e6/float64(b.N), "cpu-ms/report")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/report")
		})
	}
}

// BenchmarkSymbolizeCFault measures the symbolization alone of the same
// dead run's fatal record (the frames of collector.Build's native merge),
// with the system's separate debug files (/usr/lib/debug: libc's, where
// libc6-dbg is installed, gives libc frames file and line) and without.
func BenchmarkSymbolizeCFault(b *testing.B) {
	for _, dirs := range []struct {
		name string
		dirs []string
	}{{"debug-dirs", nil}, {"no-debug-dirs", []string{}}} {
		for _, mode := range []string{"cold", "warm"} {
			b.Run(dirs.name+"/"+mode, func(b *testing.B) {
				id, files := cFaultRun(b)
				path := filepath.Join(b.TempDir(), "flight")
				require.NoError(b, os.WriteFile(path, files[id+"."+runfile.FlightName], 0o600))
				f, err := flightrec.ReadFile(path)
				require.NoError(b, err)
				var rec *flightrec.Record
				for i := range f.Records {
					if f.Records[i].Flags.Has(flightrec.FlagFatal) {
						rec = &f.Records[i]
					}
				}
				require.NotNil(b, rec, "a fatal record")
				var imgs []report.Image
				for _, im := range f.Images {
					if !im.Incomplete {
						imgs = append(imgs, report.Image{Path: im.Path, Base: im.Base, Size: im.Size, IsMain: im.IsMain(),
							Type: "elf", BuildID: fmt.Sprintf("%x", im.BuildID)})
					}
				}
				opts := symbolize.Options{
					Sentinel:  symbolize.Sentinel{Symbol: f.Header.SentinelName, Addr: f.Header.SentinelPC},
					DebugDirs: dirs.dirs,
				}
				frames := func() []report.Frame {
					s := symbolize.New(imgs, opts)
					defer s.Close()
					return s.Frames(rec.Frames)
				}
				var cached float64
				symbolize.ResetCache()
				if mode == "warm" {
					// What the cache holds once the images are read: the
					// heap with the cache filled, less the heap without it.
					var full, empty runtime.MemStats
					frames()
					runtime.GC()
					runtime.ReadMemStats(&full)
					symbolize.ResetCache()
					runtime.GC()
					runtime.ReadMemStats(&empty)
					cached = float64(int64(full.HeapAlloc)-int64(empty.HeapAlloc)) / (1 << 20)
					frames()
				}
				var cpu time.Duration
				for b.Loop() {
					if mode == "cold" {
						symbolize.ResetCache()
					}
					start := cpuTime(b)
					fr := frames()
					cpu += cpuTime(b) - start
					if fr[0].Function == "" || fr[0].Line == 0 {
						b.Fatalf("innermost frame not symbolized: %+v", fr[0])
					}
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/1e6/float64(b.N), "cpu-ms/op")
				if mode == "warm" {
					b.ReportMetric(cached, "cached-MiB")
				}
			})
		}
	}
}
