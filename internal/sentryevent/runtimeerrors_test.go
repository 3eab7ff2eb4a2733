package sentryevent

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestPanicType(t *testing.T) {
	segv := &report.Signal{Name: "SIGSEGV", Code: 1, Addr: 0}
	tests := []struct {
		text string
		sig  *report.Signal
		want string
	}{
		{"runtime error: index out of range [5] with length 3", nil, "runtime.boundsError"},
		{"runtime error: index out of range [-1]", nil, "runtime.boundsError"},
		{"runtime error: slice bounds out of range [:7] with capacity 4", nil, "runtime.boundsError"},
		{"runtime error: cannot convert slice with length 2 to array or pointer to array with length 4", nil, "runtime.boundsError"},
		{"runtime error: invalid memory address or nil pointer dereference", segv, "runtime.errorString"},
		{"runtime error: invalid memory address or nil pointer dereference", nil, "runtime.errorString"},
		{"runtime error: invalid memory address or nil pointer dereference", &report.Signal{Name: "SIGSEGV", Code: 1, Addr: 0xdead0000}, "runtime.errorAddressString"},
		{"runtime error: invalid memory address or nil pointer dereference", &report.Signal{Name: "SIGSEGV", Code: 0x80, Addr: 0}, "runtime.errorAddressString"},
		{"runtime error: invalid memory address or nil pointer dereference", &report.Signal{Name: "SIGBUS", Code: 2, Addr: 8}, "runtime.errorString"},
		{"runtime error: integer divide by zero", nil, "runtime.errorString"},
		{"runtime error: hash of unhashable type []int", nil, "runtime.errorString"},
		{"runtime error: makeslice: len out of range", nil, "runtime.errorString"},
		{"assignment to entry in nil map", nil, "runtime.plainError"},
		{"close of closed channel", nil, "runtime.plainError"},
		{"value method main.T.M called using nil *T pointer", nil, "runtime.plainError"},
		{"interface conversion: interface {} is string, not int", nil, "*runtime.TypeAssertionError"},
		{"panic called with nil argument", nil, "*runtime.PanicNilError"},
		// Not the runtime's: the type cannot be known from the text.
		{"boom", nil, "panic"},
		{"runtime error: something a newer Go says", nil, "panic"},
		{"close of closed channel in my pool", nil, "panic"},
		{"main.Code(3)", nil, "panic"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, panicType(tc.text, tc.sig), tc.text)
	}
}

func TestRuntimeErrorTableNamesItsSource(t *testing.T) {
	for _, e := range runtimeErrorTypes {
		assert.NotEmpty(t, e.source, e.text)
		assert.NotEqual(t, "panic", e.typ)
		assert.NotContains(t, e.typ, e.text, "the type never repeats the value")
	}
}
