package sentryevent

import (
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

var (
	crashTime = time.Date(2025, 11, 3, 14, 15, 16, 123456789, time.UTC)
	startTime = time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)
)

const testEventID = "c0ffee00c0ffee00c0ffee00c0ffee00"

func baseProcess(goos, goarch string) report.Process {
	return report.Process{
		PID:         4711,
		Executable:  "/srv/app/bin/app",
		Hostname:    "host-1",
		StartTime:   startTime,
		CrashTime:   crashTime,
		GoVersion:   "go1.26.8",
		GOOS:        goos,
		GOARCH:      goarch,
		Traceback:   "single",
		Release:     "app@1.2.3",
		Environment: "production",
		Tags:        map[string]string{"team": "core"},
		Dist:        "7",
		Build: &report.BuildInfo{
			MainPath:    "example.com/app",
			MainVersion: "v1.2.3",
			VCSRevision: "abc123",
			Deps:        map[string]string{"golang.org/x/sys": "v0.47.0"},
		},
	}
}

// otherGoroutine is a waiting goroutine printed after the crashed one.
func otherGoroutine() report.Goroutine {
	return report.Goroutine{
		ID: 7, State: "chan receive", WaitMinutes: 3,
		Frames: []report.Frame{
			{Function: "example.com/app/worker.(*Pool).run", Package: "example.com/app/worker", File: "/src/app/worker/pool.go", Line: 40, InApp: true},
			{Function: "example.com/app/worker.Start.gowrap1", Package: "example.com/app/worker", File: "/src/app/worker/pool.go", Line: 22, InApp: true},
		},
		CreatedBy: &report.Frame{Function: "example.com/app/worker.Start", File: "/src/app/worker/pool.go", Line: 22},
	}
}

// panicReport: a nil pointer dereference in Go code, which Go turns into a
// runtime.Error panic with a signal line.
func panicReport() *report.Report {
	return &report.Report{
		FormatVersion: report.FormatVersion,
		EventID:       testEventID,
		RunID:         "run-1",
		Kind:          report.KindPanic,
		Message:       "runtime error: invalid memory address or nil pointer dereference",
		Signal:        &report.Signal{Name: "SIGSEGV", Description: "segmentation violation", Code: 1, Addr: 0, PC: 0x4a2f1c},
		Goroutines: []report.Goroutine{
			{ID: 1, State: "running", Crashed: true, Frames: []report.Frame{
				{Function: "example.com/app.(*Server).crash", Package: "example.com/app", File: "/src/app/server.go", Line: 12, PC: 0x4a2f1c, InApp: true},
				{Function: "main.main", Package: "main", File: "/src/app/main.go", Line: 30, PC: 0x4a3000, InApp: true},
			}},
			otherGoroutine(),
		},
		CrashedGoroutine: 1,
		Process:          baseProcess("linux", "amd64"),
		CrashOutput:      "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2f1c]\n\ngoroutine 1 [running]:\n...\n",
	}
}

// plainPanicReport: panic("boom") — type "panic", no signal.
func plainPanicReport() *report.Report {
	r := panicReport()
	r.Message = "boom"
	r.Signal = nil
	return r
}

// fatalInferredReport: "concurrent map writes", whose "fatal error:" line
// Go's crash output lacks (golang/go#76859).
func fatalInferredReport() *report.Report {
	return &report.Report{
		EventID:         testEventID,
		Kind:            report.KindFatalError,
		Message:         "concurrent map writes",
		MessageInferred: true,
		InferredFrom:    "runtime.mapassign_faststr frame",
		Goroutines: []report.Goroutine{
			{ID: 9, State: "running", Crashed: true, Frames: []report.Frame{
				{Function: "internal/runtime/maps.fatal", Package: "internal/runtime/maps", File: "/usr/local/go/src/runtime/panic.go", Line: 1058},
				{Function: "runtime.mapassign_faststr", Package: "runtime", File: "/usr/local/go/src/internal/runtime/maps/runtime_faststr.go", Line: 263},
				{Function: "main.writer.func1", Package: "main", File: "/src/app/main.go", Line: 14, InApp: true},
			}},
		},
		CrashedGoroutine: 9,
		Process:          baseProcess("linux", "amd64"),
		CrashOutput:      "goroutine 9 [running]:\n...",
	}
}

// goFaultReport: a fault at a non-nil address in Go code with no native
// record (CGO_ENABLED=0): "unexpected fault address" and a signal line.
func goFaultReport() *report.Report {
	return &report.Report{
		EventID: testEventID,
		Kind:    report.KindFault,
		Message: "unexpected fault address 0xdeadbeef",
		Signal:  &report.Signal{Name: "SIGSEGV", Description: "segmentation violation", Code: 2, Addr: 0xdeadbeef, PC: 0x46b0a1},
		Goroutines: []report.Goroutine{
			{ID: 1, State: "running", Crashed: true, Frames: []report.Frame{
				{Function: "main.poke", Package: "main", File: "/src/app/main.go", Line: 8, InApp: true},
				{Function: "main.main", Package: "main", File: "/src/app/main.go", Line: 3, InApp: true},
			}},
		},
		CrashedGoroutine: 1,
		Process:          baseProcess("linux", "amd64"),
	}
}

// nativeLinuxReport: SIGSEGV in C code called through cgo on a Go thread,
// with the native record's registers, walked frames and loaded images.
func nativeLinuxReport() *report.Report {
	return &report.Report{
		EventID: testEventID,
		Kind:    report.KindFault,
		Message: "signal arrived during cgo execution",
		Signal:  &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 1, Addr: 0x10, PC: 0x7f0000001234},
		Goroutines: []report.Goroutine{
			{ID: 1, State: "syscall", Locked: true, Crashed: true, Frames: []report.Frame{
				{Function: "runtime.cgocall", Package: "runtime", File: "/usr/local/go/src/runtime/cgocall.go", Line: 167},
				{Function: "main._Cfunc_crash", Package: "main", File: "_cgo_gotypes.go", Line: 40, InApp: true},
				{Function: "main.main", Package: "main", File: "/src/app/main.go", Line: 20, InApp: true},
			}},
		},
		CrashedGoroutine: 1,
		Native: &report.NativeFault{
			Signal: 11, SignalName: "SIGSEGV", SignalCode: 1, CodeName: "SEGV_MAPERR",
			Address: 0x10, PC: 0x7f0000001234, ThreadID: 4242, GoThread: true, Fatal: true,
			Registers: map[string]uint64{"rip": 0x7f0000001234, "rsp": 0x7ffd0000aa00, "rbp": 0x7ffd0000aa40},
			Frames: []report.Frame{
				{Function: "crash_in_c", PC: 0x7f0000001234, Image: "/srv/app/lib/libcrash.so", Native: true},
				{PC: 0x7f0000001400, Image: "/srv/app/lib/libcrash.so", Native: true},
			},
		},
		Images: []report.Image{
			{Path: "/srv/app/bin/app", Base: 0x400000, Size: 0x200000, Type: "elf", BuildID: "b4c24a6cc995c17fb18a65184a65863cfc01c673", IsMain: true},
			{Path: "/srv/app/lib/libcrash.so", Base: 0x7f0000000000, Size: 0x3000, Type: "elf", BuildID: "1C304742F114215453A8A777F6CDB3A2B8505E11"},
			{Path: "/lib/no-build-id.so", Base: 0x7f1000000000, Size: 0x1000, Type: "elf"},
		},
		Process:     baseProcess("linux", "amd64"),
		CrashOutput: "SIGSEGV: segmentation violation\nPC=0x7f0000001234 m=0 sigcode=1 addr=0x10\nsignal arrived during cgo execution\n\ngoroutine 1 gp=0xc000002380 m=0 mp=0x5a4f20 [syscall, locked to thread]:\n",
	}
}

// machReport: darwin, C code dereferences NULL; the Mach handler saw
// EXC_BAD_ACCESS first, the kernel then raised SIGSEGV for Go.
func machReport() *report.Report {
	r := nativeLinuxReport()
	r.Process = baseProcess("darwin", "arm64")
	r.Signal = &report.Signal{Name: "SIGSEGV", Description: "segmentation violation", Code: 1, Addr: 0, PC: 0x1000043a8}
	r.Native = &report.NativeFault{
		Mach:      &report.MachException{Exception: 1, Name: "EXC_BAD_ACCESS", Code: 1, CodeName: "KERN_INVALID_ADDRESS", Subcode: 0},
		PC:        0x1000043a8,
		ThreadID:  0x1a2b,
		GoThread:  true,
		Registers: map[string]uint64{"pc": 0x1000043a8, "sp": 0x16fdff000, "x0": 0},
		Frames: []report.Frame{
			{Function: "crash_in_c", PC: 0x1000043a8, Image: "/Applications/App.app/Contents/MacOS/app", Native: true},
		},
	}
	r.Images = []report.Image{
		{Path: "/Applications/App.app/Contents/MacOS/app", Base: 0x100000000, Size: 0x80000, Type: "macho", UUID: "6A2C7D3B-1C4E-3F5A-9B8D-7E6F5A4B3C2D", ImageVMAddr: 0x100000000, IsMain: true},
	}
	return r
}

// foreignThreadReport: a fault on a thread Go did not create. Go printed
// nothing, so there are no goroutines; the native record is the only witness.
func foreignThreadReport() *report.Report {
	return &report.Report{
		EventID: testEventID,
		Kind:    report.KindFault,
		Native: &report.NativeFault{
			Signal: 11, SignalName: "SIGSEGV", SignalCode: 1, CodeName: "SEGV_MAPERR",
			Address: 0x0, PC: 0x7f0000002000, ThreadID: 777, GoThread: false, Fatal: true,
			Registers: map[string]uint64{"rip": 0x7f0000002000},
			Frames: []report.Frame{
				{PC: 0x7f0000002000, Native: true},
				{PC: 0x7f0000002100, Native: true},
			},
		},
		Process: baseProcess("linux", "amd64"),
	}
}

// bareFatalReport: a fatal error with no traceback at all.
func bareFatalReport() *report.Report {
	p := baseProcess("linux", "amd64")
	p.Build = nil
	p.Release, p.ServerName, p.Tags = "", "", nil
	return &report.Report{EventID: testEventID, Kind: report.KindFatalError, Message: "out of memory", Process: p}
}
