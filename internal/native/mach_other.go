//go:build !darwin || !cgo

package native

// setCrashPortNull returns ErrMachUnsupported: there is no EXC_CRASH port
// outside darwin (and no way to reach it without cgo).
func setCrashPortNull(on bool) error { return ErrMachUnsupported }
