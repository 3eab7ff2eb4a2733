package sentryevent

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func ptr[T any](v T) *T { return &v }

func TestBuildTable(t *testing.T) {
	tests := []struct {
		name   string
		report func() *report.Report
		check  func(t *testing.T, ev tEvent)
	}{
		{"panic runtime error", panicReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "runtime.errorString", exc.Type, "the runtime's own type, as sentry-go names it")
			assert.Equal(t, "runtime error: invalid memory address or nil pointer dereference", exc.Value)
			assert.Equal(t, MechanismPanic, exc.Mechanism.Type)
			assert.Nil(t, exc.Mechanism.Synthetic, "a runtime error's type is a real type")
			require.NotNil(t, exc.Mechanism.Meta)
			assert.Equal(t, &tSignal{Number: ptr(11), Code: 1, Name: "SIGSEGV", CodeName: "SEGV_MAPERR"}, exc.Mechanism.Meta.Signal)
			assert.Nil(t, exc.Mechanism.Meta.MachException)
			assert.Equal(t, json.Number("1"), exc.ThreadID)

			require.NotNil(t, exc.Stacktrace)
			assert.Equal(t, []string{"main.main", "example.com/app.(*Server).crash"}, frameNames(exc.Stacktrace))
			top := exc.Stacktrace.Frames[1]
			assert.Equal(t, tFrame{Function: "(*Server).crash", Module: "example.com/app", AbsPath: "/src/app/server.go",
				Lineno: 12, InApp: ptr(true), InstructionAddr: "0x4a2f1c"}, top)
			assert.Nil(t, exc.Stacktrace.Registers)

			require.NotNil(t, ev.Threads)
			require.Len(t, ev.Threads.Values, 2)
			t1, t7 := ev.Threads.Values[0], ev.Threads.Values[1]
			assert.Equal(t, json.Number("1"), t1.ID)
			assert.Equal(t, "goroutine 1 [running]", t1.Name)
			assert.True(t, t1.Crashed)
			assert.True(t, t1.Current)
			assert.Equal(t, frameNames(exc.Stacktrace), frameNames(t1.Stacktrace))
			assert.Equal(t, json.Number("7"), t7.ID)
			assert.Equal(t, "goroutine 7 [chan receive, 3 minutes]", t7.Name)
			assert.False(t, t7.Crashed)
			assert.False(t, t7.Current)
			assert.Equal(t, []string{"example.com/app/worker.Start.gowrap1", "example.com/app/worker.(*Pool).run"}, frameNames(t7.Stacktrace))

			assert.Nil(t, ev.DebugMeta)
			assert.Equal(t, "app@1.2.3", ev.Release)
			assert.Equal(t, "production", ev.Environment)
			assert.Equal(t, "host-1", ev.ServerName, "falls back to the hostname, as sentry-go does")
			assert.Equal(t, "7", ev.Dist)
			assert.Equal(t, map[string]string{"team": "core"}, ev.Tags)
			assert.Equal(t, map[string]string{"golang.org/x/sys": "v0.47.0", "example.com/app": "v1.2.3"}, ev.Modules)
			assert.Equal(t, "2025-11-03T14:15:16.123456789Z", ev.Timestamp)

			assert.Equal(t, map[string]any{"name": "Linux"}, ev.Contexts["os"])
			assert.Equal(t, map[string]any{"name": "go", "version": "go1.26.8"}, ev.Contexts["runtime"])
			assert.Equal(t, map[string]any{"arch": "amd64"}, ev.Contexts["device"])
			cg := ev.Contexts["crashguard"]
			assert.Equal(t, "run-1", cg["run_id"])
			assert.Equal(t, json.Number("4711"), cg["pid"])
			assert.Equal(t, "2025-11-03T14:00:00Z", cg["start_time"])
			assert.Equal(t, "single", cg["traceback"])
			assert.Equal(t, "/srv/app/bin/app", cg["executable"])
			assert.Equal(t, "panic", cg["kind"])
			assert.Equal(t, false, cg["message_inferred"])
			assert.Equal(t, false, cg["os_report_suppressed"])
			assert.NotContains(t, cg, "native")
		}},
		{"plain panic", plainPanicReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "panic", exc.Type)
			assert.Equal(t, "boom", exc.Value)
			assert.Equal(t, MechanismPanic, exc.Mechanism.Type)
			assert.Nil(t, exc.Mechanism.Meta, "no signal, no meta")
		}},
		{"fatal error inferred", fatalInferredReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "fatal error", exc.Type)
			assert.Equal(t, "concurrent map writes", exc.Value, "the value stays clean; inference is mechanism data")
			assert.Equal(t, MechanismFatal, exc.Mechanism.Type)
			assert.Equal(t, map[string]any{"message_inferred": true, "inferred_from": "runtime.mapassign_faststr frame"}, exc.Mechanism.Data)
			assert.Nil(t, exc.Mechanism.Synthetic)
			assert.Equal(t, json.Number("9"), exc.ThreadID)
			assert.Equal(t, []string{"main.writer.func1", "runtime.mapassign_faststr", "internal/runtime/maps.fatal"}, frameNames(exc.Stacktrace))
			assert.Equal(t, []bool{true, false, false}, inApps(exc.Stacktrace))
			assert.Equal(t, true, ev.Contexts["crashguard"]["message_inferred"])
			assert.Equal(t, "runtime.mapassign_faststr frame", ev.Contexts["crashguard"]["inferred_from"])
		}},
		{"go fault with signal line", goFaultReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "SIGSEGV", exc.Type)
			assert.Equal(t, "Segfault at 0xdeadbeef", exc.Value)
			assert.Equal(t, MechanismFault, exc.Mechanism.Type)
			assert.Equal(t, ptr(true), exc.Mechanism.Synthetic)
			assert.Equal(t, ptr(false), exc.Mechanism.Handled)
			assert.Equal(t, &tSignal{Number: ptr(11), Code: 2, Name: "SIGSEGV", CodeName: "SEGV_ACCERR"}, exc.Mechanism.Meta.Signal)
			assert.Equal(t, []string{"main.main", "main.poke"}, frameNames(exc.Stacktrace))
			assert.Nil(t, exc.Stacktrace.Registers)
		}},
		{"native linux fault", nativeLinuxReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "SIGSEGV", exc.Type)
			assert.Equal(t, "Segfault at 0x10", exc.Value)
			assert.Equal(t, MechanismSignalHandler, exc.Mechanism.Type)
			assert.Equal(t, ptr(true), exc.Mechanism.Synthetic)
			assert.Equal(t, ptr(false), exc.Mechanism.Handled)
			assert.Equal(t, &tSignal{Number: ptr(11), Code: 1, Name: "SIGSEGV", CodeName: "SEGV_MAPERR"}, exc.Mechanism.Meta.Signal)
			assert.Nil(t, exc.Mechanism.Meta.MachException)
			assert.Equal(t, json.Number("1"), exc.ThreadID)

			// Oldest first: Go frames (outermost .. cgocall), then the native
			// frames with the faulting one last.
			assert.Equal(t, []string{
				"main.main", "main._Cfunc_crash", "runtime.cgocall",
				"native:@0x7f0000001400", "native:crash_in_c@0x7f0000001234",
			}, frameNames(exc.Stacktrace))
			// cgo's glue (_Cfunc_) and the runtime are out of app; the
			// program's own library is in-app, even where unsymbolized.
			assert.Equal(t, []bool{true, false, false, true, true}, inApps(exc.Stacktrace))
			assert.Equal(t, tFrame{Function: "crash_in_c", Package: "/srv/app/lib/libcrash.so", InApp: ptr(true),
				InstructionAddr: "0x7f0000001234", Platform: "native"}, exc.Stacktrace.Frames[4])
			assert.Equal(t, "_cgo_gotypes.go", exc.Stacktrace.Frames[1].Filename, "relative paths are filename, not abs_path")
			assert.Equal(t, map[string]string{"rip": "0x7f0000001234", "rsp": "0x7ffd0000aa00", "rbp": "0x7ffd0000aa40"}, exc.Stacktrace.Registers)

			// The crashed thread keeps the Go frames only.
			assert.Equal(t, "goroutine 1 [syscall, locked to thread]", ev.Threads.Values[0].Name)
			assert.Equal(t, []string{"main.main", "main._Cfunc_crash", "runtime.cgocall"}, frameNames(ev.Threads.Values[0].Stacktrace))

			require.NotNil(t, ev.DebugMeta)
			assert.Equal(t, []map[string]any{
				{"type": "elf", "code_file": "/srv/app/bin/app", "image_addr": "0x400000", "image_size": json.Number("2097152"),
					"debug_id": "6c4ac2b4-95c9-7fc1-b18a-65184a65863c", "code_id": "b4c24a6cc995c17fb18a65184a65863cfc01c673", "arch": "x86_64"},
				{"type": "elf", "code_file": "/srv/app/lib/libcrash.so", "image_addr": "0x7f0000000000", "image_size": json.Number("12288"),
					"debug_id": "4247301c-14f1-5421-53a8-a777f6cdb3a2", "code_id": "1c304742f114215453a8a777f6cdb3a2b8505e11", "arch": "x86_64"},
			}, ev.DebugMeta.Images, "the image without a build id is left out")

			assert.Equal(t, map[string]any{"thread_id": json.Number("4242"), "go_thread": true, "fatal": true,
				"fault_address": "0x10", "pc": "0x7f0000001234"}, ev.Contexts["crashguard"]["native"])
		}},
		{"darwin mach fault", machReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "EXC_BAD_ACCESS", exc.Type)
			assert.Equal(t, "KERN_INVALID_ADDRESS at 0x0", exc.Value)
			assert.Equal(t, MechanismMach, exc.Mechanism.Type)
			assert.Equal(t, ptr(true), exc.Mechanism.Synthetic)
			assert.Equal(t, ptr(false), exc.Mechanism.Handled)
			require.NotNil(t, exc.Mechanism.Meta)
			assert.Equal(t, &tMach{Exception: 1, Code: 1, Subcode: 0, Name: "EXC_BAD_ACCESS"}, exc.Mechanism.Meta.MachException)
			// The signal comes from Go's signal line; its number from the darwin table.
			assert.Equal(t, &tSignal{Number: ptr(11), Code: 1, Name: "SIGSEGV", CodeName: "SEGV_MAPERR"}, exc.Mechanism.Meta.Signal)
			assert.Equal(t, []string{"main.main", "main._Cfunc_crash", "runtime.cgocall", "native:crash_in_c@0x1000043a8"}, frameNames(exc.Stacktrace))
			assert.Equal(t, map[string]string{"pc": "0x1000043a8", "sp": "0x16fdff000", "x0": "0x0"}, exc.Stacktrace.Registers)

			assert.Equal(t, []map[string]any{
				{"type": "macho", "code_file": "/Applications/App.app/Contents/MacOS/app", "image_addr": "0x100000000",
					"image_size": json.Number("524288"), "image_vmaddr": "0x100000000",
					"debug_id": "6a2c7d3b-1c4e-3f5a-9b8d-7e6f5a4b3c2d", "arch": "arm64"},
			}, ev.DebugMeta.Images)
			assert.Equal(t, map[string]any{"name": "macOS"}, ev.Contexts["os"])
			assert.Equal(t, map[string]any{"arch": "arm64"}, ev.Contexts["device"])
		}},
		{"fault on a thread Go did not create", foreignThreadReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "SIGSEGV", exc.Type)
			assert.Equal(t, "Segfault at 0x0", exc.Value)
			assert.Equal(t, MechanismSignalHandler, exc.Mechanism.Type)
			assert.Equal(t, json.Number("777"), exc.ThreadID)
			assert.Equal(t, []string{"native:@0x7f0000002100", "native:@0x7f0000002000"}, frameNames(exc.Stacktrace))
			assert.Equal(t, map[string]string{"rip": "0x7f0000002000"}, exc.Stacktrace.Registers)

			require.NotNil(t, ev.Threads)
			require.Len(t, ev.Threads.Values, 1)
			th := ev.Threads.Values[0]
			assert.Equal(t, json.Number("777"), th.ID)
			assert.Equal(t, "thread 777 (not created by Go)", th.Name)
			assert.True(t, th.Crashed)
			assert.True(t, th.Current)
			assert.Equal(t, frameNames(exc.Stacktrace), frameNames(th.Stacktrace))
		}},
		{"fatal error without traceback", bareFatalReport, func(t *testing.T, ev tEvent) {
			exc := ev.Exception.Values[0]
			assert.Equal(t, "fatal error", exc.Type)
			assert.Equal(t, "out of memory", exc.Value)
			assert.Nil(t, exc.Stacktrace)
			assert.Equal(t, json.Number(""), exc.ThreadID)
			assert.Nil(t, ev.Threads)
			assert.Nil(t, ev.DebugMeta)
			assert.Empty(t, ev.Release)
			assert.Equal(t, "host-1", ev.ServerName)
			assert.Nil(t, ev.Modules)
			assert.Nil(t, ev.Tags)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Build(tt.report(), Options{})
			require.NoError(t, err)
			requireValidEvent(t, b)
			ev := decodeEvent(t, b)

			// What every crash event has.
			assert.Equal(t, testEventID, ev.EventID)
			assert.Equal(t, "fatal", ev.Level)
			assert.Equal(t, "go", ev.Platform)
			assert.Equal(t, SDKName, ev.Sdk.Name)
			assert.Equal(t, SDKVersion, ev.Sdk.Version)
			require.Len(t, ev.Exception.Values, 1)
			assert.Equal(t, ptr(false), ev.Exception.Values[0].Mechanism.Handled)

			tt.check(t, ev)
		})
	}
}

func TestBuildNormalizesEventID(t *testing.T) {
	r := plainPanicReport()
	r.EventID = "C0FFEE00-C0FF-EE00-C0FF-EE00C0FFEE00"
	b, err := Build(r, Options{})
	require.NoError(t, err)
	assert.Equal(t, testEventID, decodeEvent(t, b).EventID)
}

func TestBuildRejectsInvalidReports(t *testing.T) {
	_, err := Build(nil, Options{})
	assert.ErrorIs(t, err, ErrInvalidReport)

	for _, id := range []string{"", "xyz", "c0ffee00c0ffee00c0ffee00c0ffee", "c0ffee00c0ffee00c0ffee00c0ffee00ff", "c0ffee00-c0ffee00-c0ffee00-c0ffee00"} {
		r := plainPanicReport()
		r.EventID = id
		_, err := Build(r, Options{})
		assert.ErrorIs(t, err, ErrInvalidReport, "event id %q", id)
	}
}

func TestSplitFunction(t *testing.T) {
	for _, tt := range []struct {
		f                report.Frame
		module, function string
	}{
		{report.Frame{Function: "main.main"}, "main", "main"},
		{report.Frame{Function: "github.com/x/y.(*T).m"}, "github.com/x/y", "(*T).m"},
		{report.Frame{Function: "github.com/x/y.f.func1"}, "github.com/x/y", "f.func1"},
		{report.Frame{Function: "gopkg.in/yaml.v3.Unmarshal", Package: "gopkg.in/yaml.v3"}, "gopkg.in/yaml.v3", "Unmarshal"},
		{report.Frame{Function: "example.com/a.b/c.F[...]"}, "example.com/a.b/c", "F[...]"},
		{report.Frame{Function: "panic"}, "", "panic"},
		{report.Frame{Function: "go:buildid"}, "", "go:buildid"},
	} {
		m, f := splitFunction(tt.f)
		assert.Equal(t, tt.module, m, tt.f.Function)
		assert.Equal(t, tt.function, f, tt.f.Function)
	}
}

func TestSignalFromNumberOnly(t *testing.T) {
	// A native record that knows only the number gets its name from the
	// platform's table (SIGBUS is 7 on Linux, 10 on darwin).
	for goos, num := range map[string]int{"linux": 7, "darwin": 10} {
		r := foreignThreadReport()
		r.Process.GOOS = goos
		r.Native.Signal, r.Native.SignalName, r.Native.SignalCode, r.Native.CodeName = num, "", 2, ""
		r.Native.Address = 0x1000
		b, err := Build(r, Options{})
		require.NoError(t, err)
		requireValidEvent(t, b)
		exc := decodeEvent(t, b).Exception.Values[0]
		assert.Equal(t, "SIGBUS", exc.Type, goos)
		assert.Equal(t, "Bus error at 0x1000", exc.Value, goos)
		assert.Equal(t, &tSignal{Number: ptr(num), Code: 2, Name: "SIGBUS", CodeName: "BUS_ADRERR"}, exc.Mechanism.Meta.Signal, goos)
	}
}

func TestDarwinPanicKeepsMachEvidence(t *testing.T) {
	// A nil dereference in Go code on darwin: the Mach handler saw it first,
	// then Go made it a panic. The panic describes the event; the Mach
	// record (here without names, as a minimal record) is kept as meta.
	r := panicReport()
	r.Process.GOOS, r.Process.GOARCH = "darwin", "arm64"
	r.Native = &report.NativeFault{Mach: &report.MachException{Exception: 1, Code: 2, Subcode: 0x8}, PC: 0x1000043a8, GoThread: true, ThreadID: 5}
	b, err := Build(r, Options{})
	require.NoError(t, err)
	requireValidEvent(t, b)
	exc := decodeEvent(t, b).Exception.Values[0]
	assert.Equal(t, "runtime.errorString", exc.Type)
	assert.Equal(t, MechanismPanic, exc.Mechanism.Type)
	assert.Nil(t, exc.Mechanism.Synthetic)
	assert.Equal(t, &tMach{Exception: 1, Code: 2, Subcode: 8, Name: "EXC_BAD_ACCESS"}, exc.Mechanism.Meta.MachException)
	assert.Equal(t, "SIGSEGV", exc.Mechanism.Meta.Signal.Name, "from Go's signal line")

	r.Kind = report.KindFault
	b, err = Build(r, Options{})
	require.NoError(t, err)
	exc = decodeEvent(t, b).Exception.Values[0]
	assert.Equal(t, "EXC_BAD_ACCESS", exc.Type)
	assert.Equal(t, "KERN_PROTECTION_FAILURE at 0x8", exc.Value)
}
