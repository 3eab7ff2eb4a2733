package symbolize

// TmpDir is the test binary's scratch directory, for the external tests.
func TmpDir() string { return tmpDir }

// ResetCache empties the process-wide image cache, so that the next
// Symbolizer opens its images cold.
func ResetCache() { imageCache.reset() }
