// Package transport posts Sentry envelopes and says what became of them.
//
// sentry-go's Transport.SendEvent returns nothing, but the outbox must know
// whether to delete, keep or quarantine a report, so crashguard posts the
// envelope itself, the way sentry-go's HTTP transport does, and classifies
// the answer into an Outcome.
package transport
