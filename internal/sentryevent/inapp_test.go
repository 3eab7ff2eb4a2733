package sentryevent

import (
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestNativeInApp(t *testing.T) {
	r := &report.Report{
		Process: report.Process{Build: &report.BuildInfo{MainPath: "example.com/app"}},
		Images: []report.Image{
			{Path: "/usr/lib/app/bin/app", IsMain: true}, // main wins over its location here; Sentry's own rule may still override
			{Path: "/opt/app/lib/libmine.so"},
			{Path: "/lib/x86_64-linux-gnu/libc.so.6"},
		},
	}
	fr := newFrameRules(r)
	tests := []struct {
		fn, image string
		want      bool
	}{
		{"crash_in_c", "/usr/lib/app/bin/app", true},
		{"", "/usr/lib/app/bin/app", true}, // unsymbolized: Sentry symbolicates it from the debug file
		{"helper", "/opt/app/lib/libmine.so", true},
		{"helper", "./libmine.so", true},
		{"abort", "/lib/x86_64-linux-gnu/libc.so.6", false},
		{"__pthread_kill_implementation", "/lib/x86_64-linux-gnu/libc.so.6", false},
		{"_dl_runtime_resolve", "/lib64/ld-linux-x86-64.so.2", false},
		{"clock_gettime", "linux-vdso.so.1", false},
		{"printf", "/nix/store/abc-glibc-2.40/lib/libc.so.6", false},
		{"f", "/usr/lib64/libfoo.so.1", false},
		{"f", "/usr/local/lib/libfoo.so", false},
		{"f", "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation", false},
		{"f", "/usr/lib/system/libsystem_kernel.dylib", false},
		{"f", "/opt/homebrew/lib/libfoo.dylib", false},
		// cgo's glue and the C runtime, even inside the executable.
		{"_cgo_6d2bdab98db2_Cfunc_crash", "/usr/lib/app/bin/app", false},
		{"x_cgo_thread_start", "/usr/lib/app/bin/app", false},
		{"crosscall1", "/usr/lib/app/bin/app", false},
		{"threadentry", "/usr/lib/app/bin/app", false},
		{"_start", "/usr/lib/app/bin/app", false},
		{"memcpy", "/usr/lib/app/bin/app", false},
		{"abort", "/usr/lib/app/bin/app", false},
		// A pc in no known image is nobody's.
		{"f", "", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, fr.nativeInApp(report.Frame{Function: tc.fn, Image: tc.image, Native: true}),
			"%s in %s", tc.fn, tc.image)
	}
}

func TestNativeStackShowsGoFunctionsAsGoFrames(t *testing.T) {
	r := &report.Report{Process: report.Process{Build: &report.BuildInfo{MainPath: "example.com/app"}},
		Images: []report.Image{{Path: "/srv/app", IsMain: true}}}
	got := newFrameRules(r).nativeStack([]report.Frame{
		{Function: "crash_in_c", Image: "/srv/app", PC: 0x10, Native: true},
		{Function: "_cgo_0123_Cfunc_crash_in_c", Image: "/srv/app", PC: 0x20, Native: true},
		{Function: "runtime.asmcgocall", Package: "runtime", Image: "/srv/app", PC: 0x30, Native: true},
		{Function: "example.com/app/db.open", Package: "example.com/app/db", Image: "/srv/app", PC: 0x40, Native: true},
	})
	assert.Equal(t, []string{"example.com/app/db.open", "runtime.asmcgocall", "native:_cgo_0123_Cfunc_crash_in_c@0x20", "native:crash_in_c@0x10"},
		names(got))
	assert.Equal(t, []bool{true, false, false, true}, []bool{got[0].InApp, got[1].InApp, got[2].InApp, got[3].InApp})
	assert.Empty(t, got[0].Platform, "Go code is not sent for native symbolication")
	assert.Equal(t, "0x40", got[0].InstructionAddr)
	assert.Equal(t, "example.com/app/db", got[0].Module)
	assert.Equal(t, "open", got[0].Function)
}

func TestGoGlueIsNotInApp(t *testing.T) {
	for fn, glue := range map[string]bool{
		"main._Cfunc_crash": true, "main._C2func_open": true, "main._Cmacro_X": true, "main._cgo_cmalloc": true,
		"main._Cgo_ptr": true, "main._cgoCheckPointer": true, "main.Crash": false, "main._Config": false,
	} {
		f := toFrame(report.Frame{Function: fn, Package: "main", InApp: true})
		assert.Equal(t, !glue, f.InApp, fn)
	}
}

func TestMergeFramesKeepsOneFramePerFunction(t *testing.T) {
	goFrames := []report.Frame{
		{Function: "main.inner", Package: "main", File: "/src/main.go", Line: 10, InApp: true}, // inlined into main.outer
		{Function: "main.outer", Package: "main", File: "/src/main.go", Line: 20, InApp: true},
		{Function: "main.main", Package: "main", File: "/src/main.go", Line: 30, InApp: true},
	}
	t.Run("go fault", func(t *testing.T) {
		native := []report.Frame{
			// The native walk sees the physical function with the inlined line.
			{Function: "main.outer", Package: "main", File: "/src/main.go", Line: 10, PC: 0x100, Native: true},
			{Function: "main.main", Package: "main", File: "/src/main.go", Line: 30, PC: 0x200, Native: true},
			{Function: "runtime.main", Package: "runtime", PC: 0x300, Native: true}, // hidden by the traceback
		}
		g, n := mergeFrames(goFrames, native)
		assert.Empty(t, n)
		assert.Equal(t, []uint64{0, 0x100, 0x200}, []uint64{g[0].PC, g[1].PC, g[2].PC})
		assert.Zero(t, goFrames[1].PC, "the report is not changed")
	})
	t.Run("cgo fault", func(t *testing.T) {
		cgoFrames := []report.Frame{
			{Function: "runtime.cgocall", Package: "runtime", Line: 167},
			{Function: "main._Cfunc_crash", Package: "main", Line: 40, InApp: true},
			{Function: "main.main", Package: "main", Line: 30, InApp: true},
		}
		native := []report.Frame{
			{Function: "crash", PC: 0x10, Native: true},
			{Function: "_cgo_0123_Cfunc_crash", PC: 0x20, Native: true},
			{Function: "runtime.asmcgocall", Package: "runtime", PC: 0x30, Native: true},
			{Function: "runtime.cgocall", Package: "runtime", PC: 0x40, Native: true},
			{Function: "main._Cfunc_crash", Package: "main", PC: 0x50, Native: true},
		}
		g, n := mergeFrames(cgoFrames, native)
		assert.Equal(t, native[:3], n, "what Go could not see stays, innermost")
		assert.Equal(t, []uint64{0x40, 0x50, 0}, []uint64{g[0].PC, g[1].PC, g[2].PC})
	})
	t.Run("no match", func(t *testing.T) {
		native := []report.Frame{{Function: "crash", PC: 0x10, Native: true}}
		g, n := mergeFrames(goFrames, native)
		assert.Equal(t, goFrames, g)
		assert.Equal(t, native, n)
	})
}

// names is frameNames for sentry-go frames.
func names(frames []sentry.Frame) []string {
	var out []string
	for _, f := range frames {
		if f.Platform == platformNative {
			out = append(out, "native:"+f.Function+"@"+f.InstructionAddr)
			continue
		}
		name := f.Function
		if f.Module != "" {
			name = f.Module + "." + name
		}
		out = append(out, name)
	}
	return out
}
