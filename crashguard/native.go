package crashguard

// installNative starts the native layer (signal chain, Mach exception thread,
// flight recorder) when this build has one.
func (g *Guard) installNative() {}
