// Package dotted has a dot in the last element of its import path
// (example.com/crashgen/dotted.v2), like gopkg.in/yaml.v3, so that the
// tracebacks show how such a function name is printed.
package dotted

// Box is a receiver for a method whose closure panics.
type Box struct{ Name string }

// Open panics from a closure inside a pointer method.
func (b *Box) Open() {
	func() {
		panic("dotted: cannot open " + b.Name)
	}()
}
