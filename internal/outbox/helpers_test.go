package outbox

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// t0 is the injected "now" of the tests.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// clock is an injectable, advanceable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer is a concurrency-safe buffer for a slog text handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openTest opens an outbox in a fresh temp dir with a fixed clock, no jitter
// and a captured log. Its caps and crash-loop folding are off, since most
// tests put many copies of one report (newReport); caps_test.go and
// crashloop_test.go test them.
func openTest(t *testing.T) (*Outbox, *clock, *logBuffer) {
	t.Helper()
	clk := newClock()
	logs := &logBuffer{}
	o, err := Open(filepath.Join(t.TempDir(), "outbox"), Options{
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		Now:        clk.Now,
		Rand:       func() float64 { return 0 },
		MaxReports: -1, MaxBytes: -1, MaxAge: -1, LoopWindow: -1,
	})
	require.NoError(t, err)
	return o, clk, logs
}

// testID returns a valid event id derived from n.
func testID(n int) string { return fmt.Sprintf("%032x", 0xc0ffee00+n) }

// newReport returns a report with every kind of field set.
func newReport(id string) *report.Report {
	frame := report.Frame{
		Function: "main.(*T).crash", Package: "main", File: "/src/app/main.go", Line: 42,
		PC: 0x4a2f1c, Offset: 0x1d, Args: "0xc000012345, 0x2", InApp: true,
	}
	return &report.Report{
		FormatVersion:   report.FormatVersion,
		EventID:         id,
		RunID:           "20261122T115959-1234-abcd",
		Kind:            report.KindFault,
		Message:         "runtime error: invalid memory address or nil pointer dereference",
		MessageInferred: true,
		InferredFrom:    "signal line",
		Signal: &report.Signal{
			Name: "SIGSEGV", Number: 11, Description: "segmentation violation",
			Code: 1, Addr: 0, PC: 0x4a2f1c,
		},
		Goroutines: []report.Goroutine{
			{ID: 1, State: "running", Crashed: true, Locked: true, Frames: []report.Frame{frame}},
			{
				ID: 7, State: "chan receive", WaitMinutes: 3, FramesElided: true,
				Frames:             []report.Frame{{Function: "runtime.gopark", Package: "runtime"}},
				CreatedBy:          &report.Frame{Function: "main.start", File: "/src/app/main.go", Line: 10},
				CreatedByGoroutine: 1,
			},
		},
		CrashedGoroutine: 1,
		Native: &report.NativeFault{
			Signal: 11, SignalName: "SIGSEGV", SignalCode: 1, CodeName: "SEGV_MAPERR",
			Mach:    &report.MachException{Exception: 1, Name: "EXC_BAD_ACCESS", Code: 1, CodeName: "KERN_INVALID_ADDRESS", Subcode: 8},
			Address: 8, PC: 0x7f00dead, ThreadID: 4242, GoThread: false, Fatal: true,
			Registers: map[string]uint64{"rip": 0x7f00dead, "rsp": 0x7ffc0000},
			Frames:    []report.Frame{{Function: "crash_in_c", Native: true, Image: "/usr/lib/libx.so", PC: 0x7f00dead}},
		},
		Images: []report.Image{{
			Path: "/src/app/app", Base: 0x400000, Size: 0x200000, Type: "elf",
			BuildID: "abcdef", DebugID: "d-id", CodeID: "c-id", IsMain: true, ImageVMAddr: 0x400000,
		}},
		OSReportSuppressed: true,
		Process: report.Process{
			PID: 1234, Executable: "/src/app/app", Args: []string{"app", "-v"}, Hostname: "host1",
			StartTime: t0.Add(-time.Minute), CrashTime: t0, GoVersion: "go1.26.8",
			GOOS: "linux", GOARCH: "amd64", Traceback: "all",
			Build: &report.BuildInfo{
				MainPath: "example.com/app", MainVersion: "v1.2.3", VCSRevision: "abc123",
				VCSTime: "2026-11-01T00:00:00Z", VCSModified: true,
				Deps: map[string]string{"golang.org/x/sys": "v0.47.0"},
			},
			Release: "app@1.2.3", Environment: "prod", ServerName: "srv", Dist: "7",
			Tags: map[string]string{"team": "core"},
		},
		CrashOutput:          "panic: boom\n\ngoroutine 1 [running]:\n",
		CrashOutputTruncated: true,
	}
}

// names returns the sorted names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

// readReason returns the reason file of quarantine/<name>.
func readReason(t *testing.T, o *Outbox, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.Dir(), quarantineDir, name+reasonExt))
	require.NoError(t, err)
	return string(b)
}

// withHookAfterOpen sets testHookAfterOpen for the rest of the test.
func withHookAfterOpen(t *testing.T, hook func(path string)) {
	testHookAfterOpen = hook
	t.Cleanup(func() { testHookAfterOpen = nil })
}
