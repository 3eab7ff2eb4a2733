// Package osdump switches the operating system's own crash dumps off and back
// on: Linux core files (and the core pipe to systemd-coredump or apport).
// The darwin Crash Reporter side lives in the native layer, because it needs
// the fatal-signal handler (Chromium's _exit) or a Mach call.
package osdump

import "errors"

// ErrUnsupported is returned where this package cannot suppress dumps.
var ErrUnsupported = errors.New("osdump: core dump suppression not supported on this platform")

// Saved holds the settings found before Suppress, so Restore puts back
// exactly those.
type Saved struct {
	saved
}
