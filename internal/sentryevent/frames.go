package sentryevent

import (
	"fmt"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// platformNative marks frames that carry raw instruction addresses for
// server-side symbolication against debug_meta.images.
const platformNative = "native"

// hexAddr formats an address the way Sentry's Addr type expects.
func hexAddr(a uint64) string { return fmt.Sprintf("0x%x", a) }

// goStack converts Go frames, innermost first as printed, into Sentry's
// order, oldest (outermost) first.
func goStack(frames []report.Frame) []sentry.Frame {
	out := make([]sentry.Frame, 0, len(frames))
	for i := len(frames) - 1; i >= 0; i-- {
		out = append(out, toFrame(frames[i]))
	}
	return out
}

// nativeStack converts the native frames of the fault record, innermost
// first, into Sentry's order, deciding in_app by the rules of inapp.go.
// A native frame in a Go function (the symbolizer found it in the Go
// pc-line table and set its Package) is shown as the Go traceback shows Go
// frames, module and function split, with its pc: it is Go code, and as a
// native frame it would make the event native for Sentry (symbolication,
// "missing debug file") and group apart from the same code in a build
// without cgo. Every other frame is a native frame.
func (fr *frameRules) nativeStack(frames []report.Frame) []sentry.Frame {
	out := make([]sentry.Frame, 0, len(frames))
	for i := len(frames) - 1; i >= 0; i-- {
		f := frames[i]
		if f.Package != "" {
			f.Native = false
			f.InApp = goInApp(f.Package, fr.mainPath)
		} else {
			f.Native = true
			f.InApp = fr.nativeInApp(f)
		}
		out = append(out, toFrame(f))
	}
	return out
}

// mergeFrames makes one list of a goroutine's frames as the Go traceback
// printed them and the native walk of the same thread (both innermost
// first), with each function once. Where a native frame describes a frame
// of the traceback (the same pc, or the same Go function, in order), the
// traceback's frame is kept (module, function, file, line, in-app as Go
// prints them) with the native frame's pc added, and the native frame is
// dropped. The first such match is where the native walk entered the
// goroutine's stack, which the traceback already describes completely at
// its level (it hides runtime frames on purpose), so every native frame
// past it is dropped too; the native frames before it are what Go could not
// see (C code, cgo's glue, assembly on the system stack) and stay, innermost.
// With no match, both lists are returned unchanged.
func mergeFrames(goFrames, native []report.Frame) ([]report.Frame, []report.Frame) {
	var merged []report.Frame
	first, next := -1, 0
	for i, n := range native {
		k := matchFrame(goFrames, next, n)
		if k < 0 {
			continue
		}
		if merged == nil {
			merged = append([]report.Frame(nil), goFrames...)
		}
		if first < 0 {
			first = i
		}
		if merged[k].PC == 0 {
			merged[k].PC = n.PC
		}
		next = k + 1
	}
	if first < 0 {
		return goFrames, native
	}
	return merged, native[:first]
}

// matchFrame returns the index, from from on, of the traceback frame that
// native frame n describes: the same pc, or for a Go function the same
// function (inlined calls are separate frames in the traceback and one in
// the native walk, so the file and line may differ). -1 if none.
func matchFrame(goFrames []report.Frame, from int, n report.Frame) int {
	for k := from; k < len(goFrames); k++ {
		g := goFrames[k]
		if n.PC != 0 && g.PC == n.PC || n.Package != "" && g.Function == n.Function {
			return k
		}
	}
	return -1
}

// toFrame converts one frame. Go frames are split into module (the import
// path) and function ("(*T).m") as sentry-go does, so that crashes group with
// what sentry-go reports for the same code. Native frames keep the symbol as
// the native layer found it and name their image in package, as
// sentry-native does.
func toFrame(f report.Frame) sentry.Frame {
	fr := sentry.Frame{InApp: f.InApp, Lineno: f.Line}
	if f.PC != 0 {
		fr.InstructionAddr = hexAddr(f.PC)
	}
	setPath(&fr, f.File)
	if f.Native {
		fr.Platform = platformNative
		fr.Function = f.Function
		fr.Package = f.Image
		return fr
	}
	fr.Module, fr.Function = splitFunction(f)
	fr.InApp = fr.InApp && !goGlue(fr.Function)
	return fr
}

// setPath fills filename/abs_path the way sentry-go's newFrame does: an
// absolute path is abs_path only, a relative one (built with -trimpath, e.g.
// "github.com/x/y/f.go") is filename.
func setPath(fr *sentry.Frame, file string) {
	switch {
	case file == "":
	case strings.HasPrefix(file, "/") || strings.HasPrefix(file, `\`) ||
		len(file) >= 3 && file[1] == ':' && (file[2] == '/' || file[2] == '\\'):
		fr.AbsPath = file
	default:
		fr.Filename = file
	}
}

// splitFunction splits "github.com/x/y.(*T).m" into "github.com/x/y" and
// "(*T).m". It trusts the collector's Package when it is a prefix of the
// name, else applies the rule of debug/gosym's Sym.PackageName (which is also
// sentry-go's): the package ends at the first dot after the last slash.
func splitFunction(f report.Frame) (module, function string) {
	name := f.Function
	if f.Package != "" && strings.HasPrefix(name, f.Package+".") {
		return f.Package, name[len(f.Package)+1:]
	}
	if strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "type:") {
		return "", name // compiler-generated symbols belong to no package
	}
	start := strings.LastIndex(name, "/") + 1
	if i := strings.Index(name[start:], "."); i >= 0 {
		return name[:start+i], name[start+i+1:]
	}
	return "", name // e.g. "panic", which the runtime prints without a package
}

// crashedGoroutine returns the goroutine that crashed, or nil.
func crashedGoroutine(r *report.Report) *report.Goroutine {
	for i := range r.Goroutines {
		if r.Goroutines[i].Crashed {
			return &r.Goroutines[i]
		}
	}
	if r.CrashedGoroutine > 0 {
		for i := range r.Goroutines {
			if r.Goroutines[i].ID == r.CrashedGoroutine {
				return &r.Goroutines[i]
			}
		}
	}
	return nil
}

// nativeThread returns the native record when the crash happened on a thread
// no goroutine was running on (a thread Go did not create): that thread is
// then the crashed thread of the event.
func nativeThread(r *report.Report) *report.NativeFault {
	n := r.Native
	if n == nil || n.GoThread || n.ThreadID == 0 || r.CrashedGoroutine > 0 || crashedGoroutine(r) != nil {
		return nil
	}
	return n
}

// exceptionStacktrace is the crashed goroutine's frames followed by the
// native frames, each function once (mergeFrames). Sentry wants the oldest
// frame first and the crashing frame last; the native frames are the
// innermost (the walk started at the fault), so they go after the Go
// frames, each part reversed from the report's innermost-first order.
func exceptionStacktrace(r *report.Report) *sentry.Stacktrace {
	var goFrames, native []report.Frame
	if g := crashedGoroutine(r); g != nil {
		goFrames = g.Frames
	} else if r.Native == nil && len(r.Goroutines) > 0 {
		// No goroutine crashed (a deadlock: all blocked). The first one
		// printed, goroutine 1 in practice, is where the program is stuck,
		// and gives the event a stack to group by.
		goFrames = r.Goroutines[0].Frames
	}
	if r.Native != nil {
		native = r.Native.Frames
		if r.Native.GoThread {
			goFrames, native = mergeFrames(goFrames, native)
		}
	}
	frames := goStack(goFrames)
	frames = append(frames, newFrameRules(r).nativeStack(native)...)
	if len(frames) == 0 && r.Native != nil && r.Native.PC != 0 {
		// Nothing was walked, but the faulting pc is itself a frame, and a
		// stack trace needs one for its registers to be shown.
		frames = []sentry.Frame{{InstructionAddr: hexAddr(r.Native.PC), Platform: platformNative}}
	}
	if len(frames) == 0 {
		return nil
	}
	return &sentry.Stacktrace{Frames: frames}
}

// registers formats the fault record's registers as Sentry wants them.
func registers(n *report.NativeFault) map[string]string {
	if n == nil || len(n.Registers) == 0 {
		return nil
	}
	out := make(map[string]string, len(n.Registers))
	for name, v := range n.Registers {
		out[name] = hexAddr(v)
	}
	return out
}
