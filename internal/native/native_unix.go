//go:build cgo && (linux || darwin)

package native

/*
#cgo CFLAGS: -std=gnu11 -O2 -Wall
#include <stdint.h>
#include "cg_recorder.h"
#include "cg_signal.h"

int cg_api_scan_images(void);
void cg_api_set_layers(uint32_t bits);
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

var (
	mu        sync.Mutex
	installed bool
)

// Available reports whether this build has the native layer.
func Available() bool { return true }

// Install maps the flight recorder at recorderPath (a file made by
// flightrec.Create in this process), records the loaded images, and
// installs the signal chain and, on darwin, the Mach exception thread.
// Call it once, from main, after the Go runtime is up (any time after
// package init). It returns the layers that are active; an error means
// nothing was installed.
func Install(recorderPath string, opts Options) (*Layers, error) {
	mu.Lock()
	defer mu.Unlock()
	if installed {
		return nil, ErrInstalled
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}

	lo, hi := goText()
	imageCapacity, err := mapRecorder(recorderPath, lo, hi)
	if err != nil {
		return nil, err
	}
	nimages := int(C.cg_api_scan_images())

	var prev [C.CG_NSIG]C.uint64_t
	if rc := C.cg_signals_install(&prev[0]); rc != 0 {
		C.cg_recorder_detach()
		return nil, fmt.Errorf("native: install signal handlers: %w", syscall.Errno(rc))
	}
	replaced := make([]replacedHandler, C.CG_NSIG)
	for i := range replaced {
		replaced[i] = replacedHandler{syscall.Signal(C.cg_signal_number(C.int(i))), handlerName(uintptr(prev[i]))}
	}
	chain := classifyHandlers(replaced)
	l := &Layers{
		SignalChain:   true,
		Signals:       chain.signals,
		PrevHandlers:  chain.names,
		ChainsToGo:    chain.allGo,
		Recorder:      recorderPath,
		Images:        nimages,
		GoTextStart:   lo,
		GoTextEnd:     hi,
		LibraryMode:   isLibrary(),
		SuppressMode:  opts.SuppressMode,
		ImageCapacity: imageCapacity,
	}
	lib := 0
	if l.LibraryMode {
		lib = 1
	}
	C.cg_set_chain_info(C.uint32_t(chain.goMask), C.int(lib))
	SetSuppressMode(opts.SuppressMode)

	layers := flightrec.LayerSignalChain
	if l.ChainsToGo {
		layers |= flightrec.LayerChainsToGo
	} else {
		logf("crashguard/native: not every replaced handler is the Go runtime's (%v); records are never marked fatal for those signals", l.PrevHandlers)
	}
	if l.LibraryMode {
		layers |= flightrec.LayerLibraryMode
	}
	if l.Translated = processTranslated(); l.Translated {
		logf("crashguard/native: running under Rosetta 2 (sysctl.proc_translated)")
	}
	if !opts.DisableMach {
		l.Mach, l.MachErr = installPlatform(logf)
		if l.Mach {
			layers |= flightrec.LayerMach
		}
	}
	C.cg_api_set_layers(C.uint32_t(layers))
	installed = true
	return l, nil
}

// mapRecorder checks that the file at path is a whole flight recorder
// (flightrec's header, and the size it gives) and maps it as the active
// recorder, with [lo, hi) as the Go text. It returns the recorder's image
// capacity.
func mapRecorder(path string, lo, hi uintptr) (imageCapacity int, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, fmt.Errorf("native: open recorder: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("native: stat recorder: %w", err)
	}
	head := make([]byte, flightrec.HeaderSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, fmt.Errorf("native: read recorder header: %w", err)
	}
	h, err := flightrec.DecodeHeader(head)
	if err != nil {
		return 0, fmt.Errorf("native: %w", err)
	}
	if want := flightrec.FileSize(h.RecordCount, h.ImageCapacity); st.Size() != int64(want) {
		return 0, fmt.Errorf("native: recorder is %d bytes, header says %d: %w", st.Size(), want, flightrec.ErrTruncated)
	}
	if rc := C.cg_recorder_attach(C.int(f.Fd()), C.uint64_t(st.Size()), C.uint64_t(lo), C.uint64_t(hi)); rc != 0 {
		return 0, fmt.Errorf("native: map recorder: %w", syscall.Errno(rc))
	}
	return h.ImageCapacity, nil
}

// replacedHandler is the handler Install replaced for one hooked signal,
// named by handlerName.
type replacedHandler struct {
	sig  syscall.Signal
	name string
}

// handlerChain is what the replaced handlers say about the chain.
type handlerChain struct {
	signals []syscall.Signal
	names   map[syscall.Signal]string
	// goMask has bit i set when slot i's replaced handler is the Go
	// runtime's: only for those does the handler mark a fault it knows
	// kills the process fatal (cg_set_chain_info). allGo: every one is.
	goMask uint32
	allGo  bool
}

// classifyHandlers classifies the replaced handlers, given in slot order.
func classifyHandlers(replaced []replacedHandler) handlerChain {
	c := handlerChain{names: map[syscall.Signal]string{}, allGo: true}
	for i, r := range replaced {
		c.signals = append(c.signals, r.sig)
		c.names[r.sig] = r.name
		if isGoHandler(r.name) {
			c.goMask |= 1 << i
		} else {
			c.allGo = false
		}
	}
	return c
}

// Uninstall restores the handlers Install replaced (where nobody replaced
// ours since) and unmaps the recorder, waiting a bounded time for faults
// being recorded right now. The Mach layer, if any, stays. Install may be
// called again afterwards.
func Uninstall() error {
	mu.Lock()
	defer mu.Unlock()
	if !installed {
		return nil
	}
	C.cg_signals_uninstall()
	installed = false
	if rc := C.cg_recorder_detach(); rc != 0 {
		return fmt.Errorf("native: recorder still in use, left mapped: %w", syscall.Errno(rc))
	}
	return nil
}

// SetSuppressMode sets OS crash dump suppression; it takes effect for the
// next fault. See the package doc for which faults it applies to.
func SetSuppressMode(mode SuppressMode) { C.cg_set_suppress_mode(C.int(mode)) }

// RefreshImages adds the images loaded since Install (dlopen) to the
// recorder's table and returns how many were added. Linux has no load
// callback a crash reporter can use safely, so call it after loading
// plugins or libraries; on darwin dyld reports new images by itself.
func RefreshImages() (int, error) {
	n := int(C.cg_api_scan_images())
	if n < 0 {
		return 0, errors.New("native: not installed")
	}
	return n, nil
}

// handlerName names a sigaction handler address: "SIG_DFL", "SIG_IGN", the
// Go function at it, or its address.
func handlerName(pc uintptr) string {
	switch pc {
	case 0:
		return "SIG_DFL"
	case 1:
		return "SIG_IGN"
	}
	if fn := runtime.FuncForPC(pc); fn != nil {
		return fn.Name()
	}
	return fmt.Sprintf("%#x", pc)
}

// isGoHandler reports whether a handler name is the Go runtime's signal
// entry point (runtime.sigtramp, or runtime.cgoSigtramp in cgo programs on
// linux).
func isGoHandler(name string) bool {
	return strings.HasPrefix(name, "runtime.") && strings.Contains(strings.ToLower(name), "sigtramp")
}

// isLibrary reports whether this program was built as a c-shared or
// c-archive library, whose host program may handle faults itself.
func isLibrary() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-buildmode" {
			return s.Value == "c-shared" || s.Value == "c-archive"
		}
	}
	return false
}
