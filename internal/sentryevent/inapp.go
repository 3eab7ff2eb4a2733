package sentryevent

import (
	"path"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// In-app rules for native frames.
//
// Sentry groups a stack trace by its in-app frames (the "app" variant), so a
// native crash whose frames are all out of app groups by the exception value
// alone ("Segfault at <hex>"), the same for every such crash. These rules
// mark the program's own native code in-app and everything else out, the
// way Sentry's own defaults for native platforms do: getsentry/sentry
// src/sentry/grouping/enhancer/enhancement-configs/all-platforms@2026-01-20.txt
// (the base of DEFAULT_ENHANCEMENTS_BASE in grouping/enhancer/__init__.py).
// Those rules run on the server after the SDK and override the SDK's
// in_app where they match; where none matches, the SDK's value stands. The
// ones that concern a Go program's native frames, whose "package" is the
// image path:
//
//	package:/lib/**  package:/usr/lib/**           -app  ("known well locations for unix paths")
//	path:/usr/local/lib/**  path:/usr/local/Cellar/**  -app
//	family:native package:linux-vdso.so* / linux-gate.so*  category=system, "category:system -app"
//	family:native package:"/System/Library/Frameworks/**", libsystem*, libobjc*,
//	              libdispatch.dylib, CoreFoundation, ...  category=system
//	family:native function:memset / memcpy / __memcpy / memcmp   category=system
//	family:native function:abort / raise    category=throw, "category:throw ... -app"
//	path:**/go/pkg/mod/** -app             (Go module cache)
//
// Sentry has no rule that marks a Linux executable in-app (only macOS and
// iOS bundle paths), so without the SDK's in_app a C crash in a Go program
// has no in-app frame at all. What crashguard adds, in the same spirit:
//
//   - the main executable and any library that is not the system's are
//     in-app (sentry-cocoa marks the main executable in-app; static
//     libraries end up inside it);
//   - the system's libraries are out of app by location: Sentry's list
//     (its /usr/local/lib and Cellar rules match a frame's source path;
//     here they match the image path), plus the lib64, lib32 and libx32
//     directories it misses (/lib64 is where ld.so lives on x86-64 Linux)
//     and Homebrew's /opt/homebrew; and by name: the C runtime, the dynamic
//     loader and the vdso, wherever a distribution puts them (/nix/store);
//   - Go functions found by the native walk follow Go's rule (main module
//     or package main, as for the Go traceback's frames), so runtime.* is
//     out of app;
//   - cgo's glue is out of app wherever it is linked: _cgo_* and
//     _cgoexp_* (cgo's generated C), x_cgo_*, crosscall*, threadentry
//     (runtime/cgo's C), and on the Go side _Cfunc_* and _cgo* wrappers;
//   - C runtime entry and thread start frames (_start, __libc_start_main,
//     start_thread, clone) and Sentry's memset/memcpy/memcmp/abort/raise
//     are out of app even when a static link put them in the executable.
//
// A native frame in no known image (a pc the walk could not place) is out
// of app: nothing says it is the program's. A frame in the executable that
// could not be symbolized (the file was replaced before the next start) is
// in-app: Sentry symbolicates it from the uploaded debug file, and its
// function then groups it.

// systemDirs are the directories whose images are the system's (see above).
var systemDirs = []string{
	"/lib/", "/lib32/", "/lib64/", "/libx32/",
	"/usr/lib/", "/usr/lib32/", "/usr/lib64/", "/usr/libx32/",
	"/usr/local/lib/", "/usr/local/Cellar/", "/opt/homebrew/",
	"/System/", "/Library/Apple/",
}

// systemImageNames are base names (a trailing * matches any suffix) of the
// C runtime, the dynamic loader and the vdso.
var systemImageNames = []string{
	"linux-vdso.so*", "linux-gate.so*", "[vdso]",
	"ld-linux*", "ld-musl-*", "ld.so*", "ld64.so*", "dyld",
	"libc.so*", "libc.musl*", "libm.so*", "libpthread.so*", "libdl.so*", "librt.so*",
	"libresolv.so*", "libutil.so*", "libgcc_s.so*", "libstdc++.so*", "libc++.so*",
	"libc++abi.so*", "libatomic.so*",
	"libsystem*", "libSystem*", "libobjc*", "libdyld.dylib", "libdispatch.dylib", "libc++.1.dylib",
	"libc++abi.dylib",
}

// systemFunctions are native functions out of app wherever they are linked.
var systemFunctions = map[string]bool{
	// Sentry's category:system and category:throw functions.
	"memset": true, "memcpy": true, "__memcpy": true, "memcmp": true, "abort": true, "raise": true,
	// The C runtime's process and thread entry.
	"_start": true, "__libc_start_main": true, "__libc_start_call_main": true,
	"start_thread": true, "clone": true, "clone3": true, "__clone": true, "__clone3": true,
	"thread_start": true, "_pthread_start": true, "__pthread_start": true, "_pthread_body": true,
	// runtime/cgo's C entry of a new thread.
	"threadentry": true,
}

// cgoGluePrefixes are prefixes of the native symbols of cgo's glue.
var cgoGluePrefixes = []string{"_cgo_", "_cgoexp_", "x_cgo_", "crosscall"}

// systemImage reports whether the image at p is the system's.
func systemImage(p string) bool {
	for _, d := range systemDirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	base := path.Base(p)
	for _, n := range systemImageNames {
		if pre, ok := strings.CutSuffix(n, "*"); ok {
			if strings.HasPrefix(base, pre) {
				return true
			}
		} else if base == n {
			return true
		}
	}
	return false
}

// nativeFunctionInApp reports whether a native (C) function name may be
// in-app: not cgo's glue nor a C runtime function.
func nativeFunctionInApp(fn string) bool {
	if systemFunctions[fn] {
		return false
	}
	for _, p := range cgoGluePrefixes {
		if strings.HasPrefix(fn, p) {
			return false
		}
	}
	return true
}

// goGlue reports whether a Go function (the part after the package, as
// splitFunction returns it) is cgo's generated Go glue: _Cfunc_f,
// _C2func_f, _Cmacro_m, _cgo_…, _Cgo_ptr, _cgoCheckPointer, ...
func goGlue(function string) bool {
	for _, p := range []string{"_Cfunc_", "_C2func_", "_Cmacro_", "_Cgo_", "_cgo"} {
		if strings.HasPrefix(function, p) {
			return true
		}
	}
	return false
}

// goInApp is Go's in-app rule, the collector's (internal/collector
// markInApp): package main, or the main module and its packages.
func goInApp(pkg, mainPath string) bool {
	if pkg == "main" {
		return true
	}
	if mainPath == "" || mainPath == "command-line-arguments" {
		return false
	}
	return pkg == mainPath || strings.HasPrefix(pkg, mainPath+"/")
}

// frameRules is what deciding in_app needs from the report.
type frameRules struct {
	mainPath string
	images   map[string]*report.Image // by path
}

func newFrameRules(r *report.Report) *frameRules {
	fr := &frameRules{images: make(map[string]*report.Image, len(r.Images))}
	if r.Process.Build != nil {
		fr.mainPath = r.Process.Build.MainPath
	}
	for i := range r.Images {
		fr.images[r.Images[i].Path] = &r.Images[i]
	}
	return fr
}

// nativeInApp decides in_app for a native frame that is not a Go function.
func (fr *frameRules) nativeInApp(f report.Frame) bool {
	if f.Image == "" || !nativeFunctionInApp(f.Function) {
		return false
	}
	if img := fr.images[f.Image]; img != nil && img.IsMain {
		return true
	}
	return !systemImage(f.Image)
}
