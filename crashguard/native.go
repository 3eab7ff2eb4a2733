package crashguard

import (
	"fmt"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/native"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// installNative starts the native layer (flight recorder, signal chain, Mach
// exception thread) when this build has one. Failure leaves the Go crash
// output capture in place and is logged once.
func (g *Guard) installNative() {
	log := g.s.logger
	switch {
	case g.opts.DisableNative:
		log.Info("crashguard: native layer disabled by Options.DisableNative")
		return
	case !native.Available():
		log.Info("crashguard: native layer unavailable (built without cgo): Go crash output only")
		return
	}
	path := g.run.Path(runfile.FlightName)
	if err := flightrec.Create(path); err != nil {
		log.Warn("crashguard: flight recorder not created; Go crash output only", "err", err)
		return
	}
	l, err := native.Install(path, native.Options{
		Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		log.Warn("crashguard: native layer not installed; Go crash output only", "err", err)
		return
	}
	g.native = l
	g.layers.FlightRecorder = true
	g.layers.SignalChain = l.SignalChain
	g.layers.MachExceptions = l.Mach
}

// RefreshImages tells the native layer about shared libraries loaded since
// Install (dlopen through cgo, plugins), so that frames in them are named,
// marked in-app when they are the program's own, and listed in the event's
// debug_meta for Sentry's symbolication. Linux offers no load callback a
// crash reporter can use safely, so call it after loading; on macOS dyld
// reports new images by itself and it does nothing. It returns how many
// images were added, or ErrUnsupported without the native layer.
func (g *Guard) RefreshImages() (int, error) {
	if g == nil || g.native == nil {
		return 0, ErrUnsupported
	}
	n, err := native.RefreshImages()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return n, nil
}
