//go:build linux

package crashguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	tp "github.com/crashguard/crashguard-go/internal/testprog"

	"github.com/crashguard/crashguard-go/internal/runfile"
)

// Install itself cannot be benchmarked in-process (it works once per
// process); the native layer's part of it is BenchmarkInstall in
// internal/native. BenchmarkProcessStart measures it from the outside.

// benchChildTimeout bounds every child a benchmark runs.
const benchChildTimeout = 2 * time.Minute

// buildForBench builds testprogs/<name> with cgo on into a temp dir of b.
// (testprog takes a *testing.T.) The go build cache makes it cheap after
// the first time.
func buildForBench(b *testing.B, name string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := tp.Build(ctx, name, b.TempDir(), true)
	require.NoError(b, err)
	return bin
}

// startVariants are testprogs/startcost's variants; the first is the floor
// the others are divided by.
var startVariants = []string{"bare", "install", "install-native-off", "install-monitor", "sentry-init"}

// BenchmarkProcessStart measures what a program pays at start for Install,
// against the same binary doing nothing and against sentry.Init: the wall
// time from exec to exit of testprogs/startcost, each variant once per
// iteration, in an order that rotates from one iteration to the next so
// that none always runs first (or right after another). All variants are
// one binary, so only the call differs. An op is one run of every variant.
//
// sentry.Init runs `git describe` when no release is given (sentry-go v0.50
// defaultRelease); the children run in an empty temp dir outside any
// repository, as a deployed program would, and that cost is part of the
// peer's number.
func BenchmarkProcessStart(b *testing.B) {
	bin := buildForBench(b, "startcost")
	// first-start: every run gets a fresh crashguard directory, so Install
	// also creates the tree (outbox, quarantine, runs): a program's very
	// first start. steady: each variant keeps its directory across runs, as
	// a deployed program does; Install then finds the previous (dead,
	// crash-free) run and its background pass removes it.
	for _, steady := range []bool{false, true} {
		b.Run(map[bool]string{false: "first-start", true: "steady"}[steady], func(b *testing.B) {
			work := b.TempDir()
			total := make([]time.Duration, len(startVariants))
			iter := 0
			for b.Loop() {
				for k := range startVariants {
					v := (iter + k) % len(startVariants)
					total[v] += runStartcost(b, bin, work, startVariants[v], steady)
				}
				iter++
			}
			mean := func(v int) float64 { return float64(total[v].Nanoseconds()) / 1e3 / float64(iter) }
			for v, name := range startVariants {
				b.ReportMetric(mean(v), name+"-µs/run")
			}
			for v, name := range startVariants[1:] {
				b.ReportMetric(mean(v+1)/mean(0), name+"-x")
			}
		})
	}
}

// runStartcost runs one variant in a fresh working directory, with a fresh
// CRASHGUARD_DIR (or, when steady, the variant's own one kept across runs),
// and returns the time from exec to the end of wait.
func runStartcost(b *testing.B, bin, work, variant string, steady bool) time.Duration {
	b.Helper()
	dir, err := os.MkdirTemp(work, variant+"-")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	// A file, not a buffer: an *os.File is handed to the child as is, with
	// no pipe and no copying goroutine to wait for.
	stderr, err := os.Create(filepath.Join(dir, "stderr.txt"))
	require.NoError(b, err)
	defer stderr.Close()
	cgDir := filepath.Join(dir, "cg")
	if steady {
		cgDir = filepath.Join(work, variant+"-cg")
	}

	ctx, cancel := context.WithTimeout(context.Background(), benchChildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-variant", variant)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), "CRASHGUARD_DIR="+cgDir)
	cmd.Stderr = stderr

	start := time.Now()
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	elapsed := time.Since(start)

	if err != nil {
		msg, _ := os.ReadFile(stderr.Name())
		b.Fatalf("startcost -variant %s: %v (ctx: %v)\n%s", variant, err, ctx.Err(), msg)
	}
	if strings.HasPrefix(variant, "install") && variant != "install-monitor" {
		// (A monitor, when it got to start, removes the clean run itself.)
		// Install did run: it left the (dead, crash-free) run file of the
		// child (in steady state perhaps also the previous one, when the
		// child exited before its background pass removed it).
		runs, err := runfile.List(filepath.Join(cgDir, "runs"))
		require.NoError(b, err)
		require.NotEmpty(b, runs, "variant %s left no run", variant)
	}
	return elapsed
}

// BenchmarkCrashExit measures how long a crashing process with a 2 GiB heap
// takes to be gone, from the fault to its exit status, with OS crash report
// suppression off (the kernel writes a core file of the whole heap) and on
// (no core), in the same run, alternating which goes first. The crash is a
// GOTRACEBACK=crash panic of testprogs/gocrash bigheap-panic, with RLIMIT_CORE
// raised to its hard limit in the child; the clock starts when the child
// prints "gocrash: ready" (heap touched, about to panic) and stops when Wait
// returns. It needs a core_pattern that writes a file in the child's working
// directory, a hard RLIMIT_CORE that lets the core be written, more than
// 8 GiB free in the temp dir and 4 GiB of available memory; it skips,
// saying which, otherwise.
func BenchmarkCrashExit(b *testing.B) {
	work := b.TempDir()
	if reason := coreDumpUnusable(work); reason != "" {
		b.Skip(reason)
	}
	bin := buildForBench(b, "gocrash")
	var off, on time.Duration
	iter := 0
	for b.Loop() {
		if iter%2 == 0 {
			off += crashExit(b, bin, work, false)
			on += crashExit(b, bin, work, true)
		} else {
			on += crashExit(b, bin, work, true)
			off += crashExit(b, bin, work, false)
		}
		iter++
	}
	offMS := float64(off.Nanoseconds()) / 1e6 / float64(iter)
	onMS := float64(on.Nanoseconds()) / 1e6 / float64(iter)
	b.ReportMetric(offMS, "suppress-off-ms")
	b.ReportMetric(onMS, "suppress-on-ms")
	b.ReportMetric(offMS/onMS, "off/on-x")
}

// bigheapCore is the least hard RLIMIT_CORE that lets the core of the 2 GiB
// heap be written whole.
const bigheapCore = 3 << 30

// coreDumpUnusable says why BenchmarkCrashExit cannot measure a core dump
// here, or "" when it can.
func coreDumpUnusable(work string) string {
	pat, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		return fmt.Sprintf("cannot read core_pattern: %v", err)
	}
	p := strings.TrimSpace(string(pat))
	switch {
	case strings.HasPrefix(p, "|"):
		return fmt.Sprintf("core_pattern %q pipes cores to a helper, not to a file in the working directory", p)
	case p == "" || strings.Contains(p, "/"):
		return fmt.Sprintf("core_pattern %q is not a plain file name in the working directory", p)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		return fmt.Sprintf("getrlimit RLIMIT_CORE: %v", err)
	}
	if lim.Max < bigheapCore {
		return fmt.Sprintf("hard RLIMIT_CORE is %d bytes, below the %d a 2 GiB core needs", lim.Max, bigheapCore)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(work, &st); err != nil {
		return fmt.Sprintf("statfs %s: %v", work, err)
	}
	if free := st.Bavail * uint64(st.Bsize); free <= 8<<30 {
		return fmt.Sprintf("%s has %d MiB free, 8 GiB needed for a 2 GiB core", work, free>>20)
	}
	if avail, err := memAvailable(); err != nil {
		return fmt.Sprintf("cannot tell available memory: %v", err)
	} else if avail < 4<<30 {
		return fmt.Sprintf("%d MiB of memory available, 4 GiB needed for a 2 GiB heap", avail>>20)
	}
	return ""
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			return kb << 10, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

// crashExit runs gocrash bigheap-panic once, in a fresh working directory
// that it removes (core file included) before returning, checks that the
// core was written (suppress off) or not (on), and returns the time from
// "ready" to the end of Wait.
func crashExit(b *testing.B, bin, work string, suppress bool) time.Duration {
	b.Helper()
	dir, err := os.MkdirTemp(work, "crash-")
	require.NoError(b, err)
	defer os.RemoveAll(dir) // the core file goes with it
	stderr, err := os.Create(filepath.Join(dir, "stderr.txt"))
	require.NoError(b, err)
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), benchChildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bigheap-panic")
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), "CRASHGUARD_DIR="+filepath.Join(dir, "cg"), "GOTRACEBACK=crash", "BIGHEAP_CORE=1")
	if suppress {
		cmd.Env = append(cmd.Env, "GOCRASH_SUPPRESS=1")
	}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())

	fail := func(format string, args ...any) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		msg, _ := os.ReadFile(stderr.Name())
		b.Fatalf("gocrash bigheap-panic (suppress=%v): %s (ctx: %v)\nstderr:\n%s", suppress, fmt.Sprintf(format, args...), ctx.Err(), msg)
	}
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			fail("no ready line: %v", err)
		}
		if strings.TrimSpace(line) == "gocrash: ready" {
			break
		}
	}
	start := time.Now()
	_, _ = io.Copy(io.Discard, r)
	werr := cmd.Wait()
	elapsed := time.Since(start)

	if ctx.Err() != nil {
		fail("did not end within %s", benchChildTimeout)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
		fail("want death by SIGABRT, got %v", werr)
	}
	var core int64
	entries, err := os.ReadDir(dir)
	require.NoError(b, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "core") {
			if fi, err := e.Info(); err == nil {
				core += fi.Size()
			}
		}
	}
	switch {
	case suppress && (ws.CoreDump() || core > 0):
		fail("suppression on, yet a core was dumped (%d bytes)", core)
	case !suppress && (!ws.CoreDump() || core < 2<<30):
		fail("suppression off: want a core of the 2 GiB heap, got core-dumped=%v and %d bytes", ws.CoreDump(), core)
	}
	return elapsed
}
