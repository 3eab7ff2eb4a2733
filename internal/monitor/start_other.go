//go:build !unix

package monitor

import "errors"

// ErrUnsupported: the monitor needs setsid and descriptor passing.
var ErrUnsupported = errors.New("monitor: not supported on this platform")

// Start is not available here; see ErrUnsupported.
func Start(string, Config) (int, error) { return 0, ErrUnsupported }
