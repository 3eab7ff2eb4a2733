//go:build cgo

package native

// installPlatform installs the OS-specific layers beyond the signal chain:
// none on Linux.
func installPlatform(logf func(string, ...any)) (mach bool, err error) { return false, nil }

// processTranslated is false: there is no Rosetta on Linux.
func processTranslated() bool { return false }
