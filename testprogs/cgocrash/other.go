//go:build !cgo || !(linux || darwin)

// Command cgocrash crashes in C code on purpose; it needs cgo on linux or
// darwin.
package main

func main() {}
