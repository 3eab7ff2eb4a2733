// Package sentrytest is a Sentry-compatible receiver for tests: a real HTTP
// server on 127.0.0.1 that speaks the envelope endpoint strictly, keeps what
// it received, and can be told to fail in the ways a real Sentry (or the
// network in front of it) fails.
//
// Answers, modelled on Relay:
//
//	200 {"id": ...}   a valid envelope, stored
//	404               any path but /api/<project>/envelope/
//	405               any method but POST
//	401               missing or unparsable auth, wrong sentry_key, sentry_version not 7
//	415               Content-Type not application/x-sentry-envelope, unknown Content-Encoding
//	413               body larger than MaxBodySize, or (after SetLimits, e.g. RelayLimits)
//	                  an event item, attachment or envelope over Relay's size limits
//	400               malformed envelope (framing, headers, event JSON)
//
// Every refusal has a {"detail": reason} body and is kept for assertions
// (Rejections). Bodies may be gzip-compressed (Content-Encoding: gzip, as
// crashguard sends them); Received says how large the body was on the wire
// and decoded.
package sentrytest
