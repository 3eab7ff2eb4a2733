// Package transport posts Sentry envelopes and says what became of them.
//
// sentry-go's Transport.SendEvent returns nothing, but the outbox must know
// whether to delete, keep or quarantine a report, so crashguard posts the
// envelope itself, the way sentry-go's HTTP transport does, and classifies
// the answer into an Outcome.
//
// Bodies are gzip-compressed (Content-Encoding: gzip) unless
// Options.NoCompression: Relay accepts gzip, deflate, br and zstd, and
// limits the compressed request separately from the decoded envelope. A 413
// (or a 400 that says the request was too large) is ErrTooLarge as well as
// ErrRejected, so the caller can try a smaller envelope once.
package transport
