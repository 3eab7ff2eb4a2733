//go:build darwin

package crashguard

import (
	"fmt"

	"github.com/crashguard/crashguard-go/internal/native"
)

// suppressPlatform applies Options.DarwinSuppression. Both modes need the
// native layer: _exit must come from the fatal-signal handler (Chromium
// base/mac/os_crash_dumps.cc), and the EXC_CRASH port is a Mach call.
// Not yet run on a Mac: built and linked by .ci/darwin-build.sh only.
func (g *Guard) suppressPlatform() (undo func() error, err error) {
	if g.native == nil {
		return nil, fmt.Errorf("%w: macOS Crash Reporter suppression needs the native layer (cgo)", ErrUnsupported)
	}
	mode := g.opts.DarwinSuppression
	byExit := mode == SuppressByExit || mode == SuppressByBoth
	byPort := mode == SuppressByNullCrashPort || mode == SuppressByBoth
	if byPort {
		if err := native.SetCrashPortNull(true); err != nil {
			return nil, fmt.Errorf("crashguard: set EXC_CRASH port to MACH_PORT_NULL: %w", err)
		}
	}
	if byExit {
		native.SetSuppressMode(native.SuppressExit)
	}
	return func() error {
		if byExit {
			native.SetSuppressMode(native.SuppressOff)
		}
		if byPort {
			return native.SetCrashPortNull(false)
		}
		return nil
	}, nil
}
