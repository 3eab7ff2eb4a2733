// Package crashguard captures every way a Go program can die and delivers
// each crash to Sentry as one fatal event.
//
// Call Install at the top of main:
//
//	g, err := crashguard.Install(crashguard.Options{
//		Sentry: sentry.ClientOptions{Dsn: "https://key@o0.ingest.sentry.io/1"},
//	})
//	if err != nil {
//		log.Print(err) // capture still works where it can; the error says "crashguard: "
//	}
//
// From then on an unrecovered panic in any goroutine, a runtime fatal error
// (concurrent map writes, deadlock, out of memory, stack overflow) or a fault
// leaves its Go crash output (runtime/debug.SetCrashOutput) in a per-run file.
// With cgo, a signal chain (and on macOS a Mach exception thread) also records
// native faults, including those on threads Go never created, into a flight
// recorder file mapped into memory, so that the record survives the process
// without any system call at crash time.
//
// A process cannot reliably send anything once it is dying, so delivery
// happens afterwards: the next Install of the same program (or any program
// using the same Dir) finds the dead run, turns it into a report in a durable
// outbox and sends it in the background. Flush does the same synchronously;
// with Options.Monitor a helper process does it as soon as the program has
// ended, and the crashguard command (crashguard/cmd/crashguard) does it from
// outside. A report leaves the outbox only once Sentry has answered 2xx.
package crashguard
