// Package sentryevent turns a crash report into a Sentry event and into the
// envelope that carries it.
//
// The event is built with sentry-go's own types (sentry.Event, sentry.Exception,
// sentry.Thread, ...) so that a BeforeSend callback sees and edits a real
// *sentry.Event, exactly as it would in an ordinary sentry-go program. sentry-go
// cannot express everything a native crash event needs, and it writes some
// interfaces in a non-canonical form, so the marshalled JSON is patched in one
// place (canonical.go) into the form of Sentry's published event schema.
//
// Every event is fitted to a size budget under Relay's 1 MiB event limit
// (budget.go): past the budget, goroutines with the same state and stack are
// folded into one thread, then the least telling are left out, never the
// crashed one, and the "crashguard" context counts what was left out; long
// values are cut with a marker and attachments capped. The raw crash output
// attachment keeps every goroutine (up to its 10 MiB cap).
//
// Types and frames: a Go panic's type is the runtime's own error type where the
// printed message can only be the runtime's (runtimeerrors.go), as
// sentry-go's Recover names it, else "panic". Native frames are in-app by
// Sentry's rules for native platforms plus the program's own images
// (inapp.go), and where the native walk and the Go traceback describe the
// same frame the event has it once, in Go's form (mergeFrames), so a Go
// crash groups the same with cgo on or off.
//
// Mechanism types used (exception.mechanism.type):
//
//	go.panic       an unrecovered Go panic
//	go.fatal       a Go runtime fatal error (throw): concurrent map writes, deadlock, ...
//	go.fault       a hardware fault known only from Go's crash output (no native record)
//	signalhandler  a fault recorded by crashguard's native signal handler (as sentry-native)
//	mach           a fault recorded by crashguard's Mach exception handler (as sentry-cocoa)
//	go.panic_chain the root that holds a chain of panics together (chain.go)
package sentryevent
