package sentryevent

import (
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// The exception type of a Go panic.
//
// sentry-go's Recover (and CurrentHub().Recover) names an error value by its
// dynamic type, reflect.TypeOf(err).String() (sentry-go v0.50 exception.go
// convertErrorDFS), and sends a string or any other value as a message
// event with no exception at all (client.go RecoverWithContext). The crash
// output has no type, only the value as the runtime printed it: an error's
// Error(), a Stringer's String(), a string as is (runtime/panic.go
// preprintpanics, runtime/error.go printpanicval). So the type is known
// only where the text can come from one runtime type alone: the runtime's
// own errors, whose messages are fixed strings of the runtime. Those get
// the name sentry-go would give the same panic; every other value gets the
// type "panic" (its type cannot be known from the output) and its printed
// text as the value, never repeated in the type.
//
// Checked against the Go source of go1.26.8 (GOROOT/src/runtime, the
// release the tests run on) and by TestRuntimeErrorTypesMatchSentryGo
// (crashguard/exctype_test.go), which crashes a real program once per entry
// and recovers the same panic with sentry-go. The messages have been the
// same since Go 1.21 (PanicNilError) and earlier for the rest, except where
// noted; Go 1.24 moved map assignment into internal/runtime/maps, which
// still panics with the runtime's plainError.

// runtimeErrorType is one runtime panic message (or message prefix) and the
// type of the value the runtime panics with.
type runtimeErrorType struct {
	text   string // the printed value, or its start when prefix
	prefix bool
	typ    string // reflect.TypeOf(value).String()
	source string // where the runtime raises it (GOROOT/src/runtime)
}

// Type names as reflect (and so sentry-go) spells them.
const (
	typeErrorString        = "runtime.errorString"
	typeErrorAddressString = "runtime.errorAddressString"
	typePlainError         = "runtime.plainError"
	typeBoundsError        = "runtime.boundsError"
	typeTypeAssertionError = "*runtime.TypeAssertionError"
	typePanicNilError      = "*runtime.PanicNilError"
)

// nilDereference is the message of panicmem and panicmemAddr.
const nilDereference = "runtime error: invalid memory address or nil pointer dereference"

var runtimeErrorTypes = []runtimeErrorType{
	// boundsError: every index, slice and slice-to-array conversion check.
	{"runtime error: index out of range [", true, typeBoundsError, "error.go boundsErrorFmts; panic.go goPanicIndex"},
	{"runtime error: slice bounds out of range [", true, typeBoundsError, "error.go boundsErrorFmts; panic.go goPanicSlice*"},
	{"runtime error: cannot convert slice with length ", true, typeBoundsError, "error.go boundsErrorFmts; panic.go goPanicSliceConvert"},
	// errorString ("runtime error: " + text).
	{nilDereference, false, typeErrorString, "panic.go memoryError, panicmem (see nilDerefType)"},
	{"runtime error: integer divide by zero", false, typeErrorString, "panic.go divideError, panicdivide"},
	// Mapped from the source only: amd64 and arm64 raise no FPE_INTOVF or
	// floating point trap for Go code, so these two are never seen there.
	{"runtime error: integer overflow", false, typeErrorString, "panic.go overflowError, panicoverflow"},
	{"runtime error: floating point error", false, typeErrorString, "panic.go floatError, panicfloat"},
	{"runtime error: negative shift amount", false, typeErrorString, "panic.go shiftError, panicshift"},
	{"runtime error: makeslice: len out of range", false, typeErrorString, "slice.go panicmakeslicelen"},
	{"runtime error: makeslice: cap out of range", false, typeErrorString, "slice.go panicmakeslicecap"},
	{"runtime error: growslice: len out of range", false, typeErrorString, "slice.go growslice"},
	{"runtime error: hash of unhashable type ", true, typeErrorString, "alg.go typehash, interhash, nilinterhash"},
	{"runtime error: comparing uncomparable type ", true, typeErrorString, "alg.go efaceeq, ifaceeq"},
	{"runtime error: unsafe.Slice: ", true, typeErrorString, "unsafe.go panicunsafeslicelen, panicunsafeslicenilptr"},
	{"runtime error: unsafe.String: ", true, typeErrorString, "unsafe.go panicunsafestringlen, panicunsafestringnilptr"},
	{"runtime error: range function ", true, typeErrorString, "panic.go rangeDoneError and friends, panicrangestate (Go 1.23+)"},
	// plainError (no prefix).
	{"assignment to entry in nil map", false, typePlainError, "map.go maps_errNilAssign (internal/runtime/maps)"},
	{"close of nil channel", false, typePlainError, "chan.go closechan"},
	{"close of closed channel", false, typePlainError, "chan.go closechan"},
	{"send on closed channel", false, typePlainError, "chan.go chansend; select.go selectgo"},
	{"makechan: size out of range", false, typePlainError, "chan.go makechan"},
	// The runtime's other error types.
	{"interface conversion: ", true, typeTypeAssertionError, "iface.go panicdottypeE, panicnildottype, assertE2I, typeAssert"},
	{"panic called with nil argument", false, typePanicNilError, "panic.go gopanic, PanicNilError (Go 1.21+)"},
}

// runtimeValueMethodPrefix/Infix bound panicwrap's plainError (error.go):
// "value method main.T.M called using nil *T pointer". Mapped from the
// source only: go1.26's method wrappers on amd64 dereference the nil
// pointer first, which panics with the nil dereference errorString.
const (
	runtimeValueMethodPrefix = "value method "
	runtimeValueMethodInfix  = " called using nil *"
)

// panicType returns the exception type of a panic whose value printed as
// text: the runtime's own type when the text is one of its messages, else
// "panic". sig is the crash output's signal line, nil when there was none.
func panicType(text string, sig *report.Signal) string {
	if text == nilDereference {
		return nilDerefType(sig)
	}
	for _, e := range runtimeErrorTypes {
		if text == e.text || e.prefix && strings.HasPrefix(text, e.text) {
			return e.typ
		}
	}
	if strings.HasPrefix(text, runtimeValueMethodPrefix) && strings.Contains(text, runtimeValueMethodInfix) &&
		strings.HasSuffix(text, " pointer") {
		return typePlainError
	}
	return "panic"
}

// nilDerefType tells the two types that print the nil dereference message
// apart (runtime/signal_unix.go sigpanic): a fault below 0x1000 with a
// segmentation or address code is panicmem's errorString; any other fault
// reaches panicmemAddr's errorAddressString only under
// debug.SetPanicOnFault. With no signal line the panic did not come from a
// signal: panicmem called directly (the compiler's explicit nil checks).
func nilDerefType(sig *report.Signal) string {
	if sig == nil {
		return typeErrorString
	}
	low := sig.Addr < 0x1000
	switch sig.Name {
	case "SIGSEGV":
		// SEGV_MAPERR 1, SEGV_ACCERR 2 on Linux and darwin; 0 as sigpanic allows.
		if low && sig.Code <= 2 {
			return typeErrorString
		}
	case "SIGBUS":
		// BUS_ADRERR is 2 on Linux and darwin.
		if low && sig.Code == 2 {
			return typeErrorString
		}
	}
	return typeErrorAddressString
}
