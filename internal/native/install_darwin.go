//go:build cgo

package native

// installPlatform installs the Mach exception thread (mach_darwin.go) in
// front of the signal chain. When it cannot be installed (debugger attached,
// port calls refused) the signal chain alone is the fallback; the outcome is
// logged either way.
func installPlatform(logf func(string, ...any)) (bool, error) {
	ok, err := installMach()
	switch {
	case err != nil:
		logf("crashguard/native: Mach exception handler not installed, signal chain only: %v", err)
	case !ok:
		logf("crashguard/native: Mach exception handler skipped: a debugger is attached (P_TRACED), signal chain only")
	default:
		logf("crashguard/native: Mach exception handler installed")
	}
	return ok, err
}
