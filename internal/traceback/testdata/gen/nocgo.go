//go:build !cgo

package main

const haveCgo = false

func cgoSegv()  { panic("crashgen: built without cgo") }
func cgoAbort() { panic("crashgen: built without cgo") }
