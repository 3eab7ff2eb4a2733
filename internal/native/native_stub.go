//go:build !cgo || !(linux || darwin)

package native

// Available reports whether this build has the native layer: false here
// (no cgo, or an OS without the native layer).
func Available() bool { return false }

// Install returns ErrUnavailable: this build has no native layer.
func Install(recorderPath string, opts Options) (*Layers, error) { return nil, ErrUnavailable }

// Uninstall does nothing in this build.
func Uninstall() error { return nil }

// SetSuppressMode does nothing in this build.
func SetSuppressMode(mode SuppressMode) {}

// RefreshImages returns ErrUnavailable in this build.
func RefreshImages() (int, error) { return 0, ErrUnavailable }
