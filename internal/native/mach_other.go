//go:build !darwin || !cgo

package native

// installMach reports that there is no Mach exception handler here: Mach
// exception ports exist only on darwin, and talking to them needs cgo. The
// signal chain (where there is one) is the only native source of records.
func installMach() (bool, error) {
	setMachNote("no Mach exception handler: " + ErrMachUnsupported.Error())
	return false, nil
}

// setCrashPortNull returns ErrMachUnsupported: there is no EXC_CRASH port
// outside darwin (and no way to reach it without cgo).
func setCrashPortNull(on bool) error { return ErrMachUnsupported }
