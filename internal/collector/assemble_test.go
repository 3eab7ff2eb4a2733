package collector

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// The Go crash outputs of the table: a panic, and a nil dereference whose
// signal line names pc 0x47e1b2 and address 0.
const (
	panicOutput = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/app/main.go:5 +0x25\n"
	nilOutput   = "panic: runtime error: invalid memory address or nil pointer dereference\n" +
		"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47e1b2]\n\n" +
		"goroutine 1 [running]:\nmain.main()\n\t/src/app/main.go:9 +0x12\n"
)

// TestAssemble is the merge of a dead run's crash output and flight
// recorder, case by case as the native layer writes them on Linux and
// darwin (signal handler alone, Mach exception thread alone, Mach record
// completed by the signal).
func TestAssemble(t *testing.T) {
	const (
		sig    = flightrec.FlagFromSignal
		mach   = flightrec.FlagFromMach
		fatal  = flightrec.FlagFatal
		goCode = flightrec.FlagGoCode
		goThr  = flightrec.FlagGoThread
		supp   = flightrec.FlagSuppressedExit
	)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	written := start.Add(time.Minute)
	faulted := start.Add(2 * time.Minute)

	// A record at pc 0x47e1b2, address 0 (the nil dereference's), unless
	// pc is given.
	rec := func(seq, tid uint64, f flightrec.Flags, signo int, pc uint64) flightrec.Record {
		if pc == 0 {
			pc = 0x47e1b2
		}
		return flightrec.Record{Seq: seq, ThreadID: tid, Flags: f, Signal: signo, Code: 1, PC: pc,
			Time: faulted, Registers: []uint64{1, 2}, Frames: []uint64{pc, 0x1000}}
	}
	machRec := func(seq, tid uint64, f flightrec.Flags, signo int) flightrec.Record {
		r := rec(seq, tid, f|mach, signo, 0x7ff000)
		r.MachException, r.MachCode, r.MachSubcode = 1, 1, 0x10 // EXC_BAD_ACCESS KERN_INVALID_ADDRESS
		r.Addr = 0x10
		return r
	}
	linux := flightrec.Header{OS: flightrec.OSLinux, Arch: flightrec.ArchAMD64}
	darwin := flightrec.Header{OS: flightrec.OSDarwin, Arch: flightrec.ArchARM64}

	type want struct {
		report     bool
		damage     bool
		kind       report.Kind
		message    string
		native     bool // a fault record in the report
		nativeSeq  uint64
		fatal      bool
		signal     string
		mach       string // Mach exception name
		suppressed bool   // OSReportSuppressed
		crashTime  time.Time
	}
	cases := []struct {
		name       string
		output     string // after a valid metadata line
		noMeta     bool   // the metadata line is unusable
		empty      bool   // the run file is empty (died in Start)
		traceback  string
		header     flightrec.Header
		records    []flightrec.Record
		suppressed bool // the suppression marker
		want       want
	}{
		{name: "clean end", want: want{}},
		{name: "died in Start", empty: true, want: want{}},
		{name: "clean end, recovered faults", header: linux,
			records: []flightrec.Record{rec(1, 7, sig|goCode|goThr, 11, 0), rec(2, 7, sig|goCode|goThr, 11, 0)}, want: want{}},
		{name: "Go panic", output: panicOutput,
			want: want{report: true, kind: report.KindPanic, message: "boom", crashTime: written}},
		{name: "Go panic, a fault recovered earlier", output: panicOutput, header: linux,
			records: []flightrec.Record{rec(1, 7, sig|goCode|goThr, 11, 0x999)},
			want:    want{report: true, kind: report.KindPanic, message: "boom", crashTime: written}},
		{name: "nil dereference and its record", output: nilOutput, header: linux,
			records: []flightrec.Record{rec(1, 7, sig|goCode|goThr, 11, 0x999), rec(2, 7, sig|goCode|goThr, 11, 0)},
			want: want{report: true, kind: report.KindPanic, message: "runtime error: invalid memory address or nil pointer dereference",
				native: true, nativeSeq: 2, signal: "SIGSEGV", crashTime: faulted}},
		{name: "C fault on a pthread: record alone", header: linux,
			records: []flightrec.Record{rec(1, 7, sig|fatal, 11, 0x7ff000)},
			want: want{report: true, kind: report.KindFault, message: "SIGSEGV: segmentation violation",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGSEGV", crashTime: faulted}},
		{name: "fatal record over a matching one", output: nilOutput, header: linux,
			records: []flightrec.Record{rec(1, 7, sig|goCode, 11, 0), rec(2, 8, sig|fatal, 7, 0x7ff000)},
			want: want{report: true, kind: report.KindPanic, message: "runtime error: invalid memory address or nil pointer dereference",
				native: true, nativeSeq: 2, fatal: true, signal: "SIGBUS", crashTime: faulted}},
		{name: "damaged output alone", output: "\x00\x00\x00\x00", want: want{damage: true}},
		{name: "damaged output and a fatal record", output: "\x00\x00\x00\x00", header: linux,
			records: []flightrec.Record{rec(1, 7, sig|fatal, 6, 0x7ff000)},
			want: want{report: true, damage: true, kind: report.KindFault, message: "SIGABRT: abort",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGABRT", crashTime: faulted}},
		{name: "unusable metadata and a fatal record", noMeta: true, header: linux,
			records: []flightrec.Record{rec(1, 7, sig|fatal, 11, 0x7ff000)},
			want: want{report: true, damage: true, kind: report.KindFault, message: "SIGSEGV: segmentation violation",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGSEGV", crashTime: faulted}},

		// darwin.
		{name: "darwin Mach only: the thread could not take the signal", header: darwin,
			records: []flightrec.Record{machRec(1, 7, 0, 0)},
			want: want{report: true, kind: report.KindFault, message: "EXC_BAD_ACCESS KERN_INVALID_ADDRESS",
				native: true, nativeSeq: 1, mach: "EXC_BAD_ACCESS", crashTime: faulted}},
		{name: "darwin Mach only, the thread ran again", header: darwin,
			records: []flightrec.Record{machRec(1, 7, 0, 0), machRec(2, 7, sig|goCode, 11)}, want: want{}},
		{name: "darwin Mach and signal, fatal", header: darwin,
			records: []flightrec.Record{machRec(1, 7, sig|fatal, 11)},
			want: want{report: true, kind: report.KindFault, message: "SIGSEGV: segmentation violation",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGSEGV", mach: "EXC_BAD_ACCESS", crashTime: faulted}},
		{name: "darwin Mach and signal, recovered", header: darwin,
			records: []flightrec.Record{machRec(1, 7, sig|goCode|goThr, 11)}, want: want{}},
		{name: "darwin Mach and signal under a Go crash output", output: nilOutput, header: darwin,
			records: []flightrec.Record{func() flightrec.Record {
				r := machRec(1, 7, sig|goCode|goThr, 11)
				r.PC, r.Addr = 0x47e1b2, 0
				return r
			}()},
			want: want{report: true, kind: report.KindPanic, message: "runtime error: invalid memory address or nil pointer dereference",
				native: true, nativeSeq: 1, signal: "SIGSEGV", mach: "EXC_BAD_ACCESS", crashTime: faulted}},

		// Suppression of OS crash reports.
		{name: "suppressed exit", header: linux,
			records: []flightrec.Record{rec(1, 7, sig|fatal|supp, 11, 0x7ff000)},
			want: want{report: true, kind: report.KindFault, message: "SIGSEGV: segmentation violation",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGSEGV", suppressed: true, crashTime: faulted}},
		{name: "marker and a fatal fault", header: linux, suppressed: true,
			records: []flightrec.Record{rec(1, 7, sig|fatal, 11, 0x7ff000)},
			want: want{report: true, kind: report.KindFault, message: "SIGSEGV: segmentation violation",
				native: true, nativeSeq: 1, fatal: true, signal: "SIGSEGV", suppressed: true, crashTime: faulted}},
		{name: "marker and GOTRACEBACK=crash", output: panicOutput, traceback: "crash", suppressed: true,
			want: want{report: true, kind: report.KindPanic, message: "boom", suppressed: true, crashTime: written}},
		{name: "marker and a plain Go crash", output: panicOutput, suppressed: true,
			want: want{report: true, kind: report.KindPanic, message: "boom", crashTime: written}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			meta := &runfile.Meta{RunID: "run1", EventID: "0123456789abcdef0123456789abcdef",
				Process: report.Process{GOOS: "linux", StartTime: start, Traceback: c.traceback}}
			content := &runfile.Content{Meta: meta, Output: []byte(c.output), ModTime: written}
			content.Raw = append([]byte("{meta}\n"), content.Output...)
			switch {
			case c.empty:
				content = &runfile.Content{ModTime: written}
			case c.noMeta:
				content.Meta, content.Raw = nil, append([]byte("{\"run_id\n"), content.Output...)
				content.Output = content.Raw
			}
			var native nativeEvidence
			if c.records != nil {
				native.file = &flightrec.File{Header: c.header, Records: c.records}
			}
			out, fault := assemble(&runEvidence{id: "run1", run: content, native: &native, suppressed: c.suppressed})

			w := c.want
			assert.Equal(t, w.damage, out.Damage != nil, "damage")
			if !w.report {
				assert.Nil(t, out.Report)
				assert.Nil(t, fault)
				return
			}
			r := out.Report
			require.NotNil(t, r)
			assert.Equal(t, "run1", r.RunID)
			assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), r.EventID)
			assert.Equal(t, w.kind, r.Kind)
			assert.Equal(t, w.message, r.Message)
			assert.Equal(t, w.suppressed, r.OSReportSuppressed, "OSReportSuppressed")
			assert.Equal(t, w.crashTime, r.Process.CrashTime)
			if !w.native {
				assert.Nil(t, r.Native)
				assert.Nil(t, fault)
				return
			}
			require.NotNil(t, r.Native)
			require.NotNil(t, fault)
			assert.Equal(t, w.nativeSeq, fault.Seq)
			assert.Equal(t, fault.PC, r.Native.PC)
			assert.Equal(t, w.fatal, r.Native.Fatal)
			assert.Equal(t, w.signal, r.Native.SignalName)
			assert.Len(t, r.Native.Registers, 2)
			assert.Nil(t, r.Native.Frames, "symbolized after assembly")
			if w.mach == "" {
				assert.Nil(t, r.Native.Mach)
			} else if assert.NotNil(t, r.Native.Mach) {
				assert.Equal(t, w.mach, r.Native.Mach.Name)
			}
		})
	}
}

func TestAssembleKeepsTheRunsEventID(t *testing.T) {
	meta := &runfile.Meta{RunID: "run1", EventID: "0123456789abcdef0123456789abcdef"}
	content := &runfile.Content{Meta: meta, Output: []byte(panicOutput), Raw: []byte("{meta}\n" + panicOutput)}
	out, _ := assemble(&runEvidence{id: "run1", run: content, native: &nativeEvidence{}})
	require.NotNil(t, out.Report)
	assert.Equal(t, meta.EventID, out.Report.EventID)
	// A crash time before the start (the file's coarse mtime) is the start.
	assert.Equal(t, meta.Process.StartTime, out.Report.Process.CrashTime)
}

func TestMatching(t *testing.T) {
	n := &nativeEvidence{file: &flightrec.File{Records: []flightrec.Record{
		{Seq: 1, PC: 0x10, Addr: 0x20, Flags: flightrec.FlagFromSignal},
		{Seq: 2, PC: 0x10, Addr: 0x20, Flags: flightrec.FlagFromMach}, // no signal: never matches
		{Seq: 3, PC: 0x10, Addr: 0x20, Flags: flightrec.FlagFromSignal},
		{Seq: 4, PC: 0x10, Addr: 0x28, Flags: flightrec.FlagFromSignal},
	}}}
	assert.Equal(t, uint64(3), n.matching(&report.Signal{PC: 0x10, Addr: 0x20}).Seq, "the newest")
	assert.Nil(t, n.matching(&report.Signal{PC: 0x10, Addr: 0x30}))
	assert.Nil(t, n.matching(nil))
	assert.Nil(t, (&nativeEvidence{}).matching(&report.Signal{PC: 0x10, Addr: 0x20}))
}

func TestNativeMessage(t *testing.T) {
	cases := []struct {
		goos string
		nf   report.NativeFault
		want string
	}{
		{"linux", report.NativeFault{SignalName: "SIGSEGV"}, "SIGSEGV: segmentation violation"},
		{"darwin", report.NativeFault{SignalName: "SIGBUS"}, "SIGBUS: bus error"},
		{"linux", report.NativeFault{SignalName: "SIG99"}, "SIG99"},
		{"darwin", report.NativeFault{Mach: &report.MachException{Name: "EXC_BAD_ACCESS", CodeName: "KERN_PROTECTION_FAILURE"}},
			"EXC_BAD_ACCESS KERN_PROTECTION_FAILURE"},
		{"darwin", report.NativeFault{Mach: &report.MachException{Name: "EXC_CRASH"}}, "EXC_CRASH"},
		{"linux", report.NativeFault{}, "native fault"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, nativeMessage(c.goos, &c.nf))
	}
}

func TestInApp(t *testing.T) {
	cases := []struct {
		pkg, mainPath string
		want          bool
	}{
		{"main", "", true},
		{"main", "example.com/app", true},
		{"example.com/app", "example.com/app", true},
		{"example.com/app/internal/db", "example.com/app", true},
		{"example.com/appendix", "example.com/app", false},
		{"runtime", "example.com/app", false},
		{"example.com/app/x", "", false},
		{"command-line-arguments", "command-line-arguments", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, inApp(c.pkg, c.mainPath), "%s in %q", c.pkg, c.mainPath)
	}
}

func TestShrink(t *testing.T) {
	goroutines := func(n, crashed int) []report.Goroutine {
		gs := make([]report.Goroutine, n)
		for i := range gs {
			gs[i].ID = int64(i + 1)
			gs[i].Crashed = i == crashed
		}
		return gs
	}
	big := string(make([]byte, 2<<20))

	// Step 0 cuts a long crash output to its first MiB.
	r := &report.Report{CrashOutput: big, Goroutines: goroutines(3, 0)}
	require.True(t, shrink(r, 0))
	assert.Len(t, r.CrashOutput, 1<<20)
	assert.True(t, r.CrashOutputTruncated)
	assert.Len(t, r.Goroutines, 3)

	// A short output: step 0 goes on to step 1, which keeps 100 goroutines
	// and the crashed one wherever it was.
	r = &report.Report{CrashOutput: "short", Goroutines: goroutines(300, 250)}
	require.True(t, shrink(r, 0))
	assert.Equal(t, "short", r.CrashOutput)
	require.Len(t, r.Goroutines, shrinkKeepGoroutines+1)
	assert.True(t, r.Goroutines[shrinkKeepGoroutines].Crashed)
	assert.Equal(t, int64(251), r.Goroutines[shrinkKeepGoroutines].ID)

	// Few goroutines: straight to step 2, the crashed goroutine alone and no
	// output.
	r = &report.Report{CrashOutput: "short", Goroutines: goroutines(5, 2)}
	require.True(t, shrink(r, 1))
	require.Len(t, r.Goroutines, 1)
	assert.Equal(t, int64(3), r.Goroutines[0].ID)
	assert.Empty(t, r.CrashOutput)

	// Nothing is left after step 2.
	assert.False(t, shrink(r, 3))
}
