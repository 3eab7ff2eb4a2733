//go:build !linux

package osdump

type saved struct{}

// Suppress returns ErrUnsupported: outside Linux, crash dumps are switched off
// by the native layer (darwin) or not at all.
func Suppress() (*Saved, error) { return nil, ErrUnsupported }

// Restore does nothing outside Linux.
func (s *Saved) Restore() error { return nil }

// Current returns ErrUnsupported outside Linux.
func Current() (dumpable int, coreLimit uint64, err error) { return 0, 0, ErrUnsupported }
