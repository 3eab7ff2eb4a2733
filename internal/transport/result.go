package transport

import (
	"errors"
	"time"
)

// Outcome classifies what happened to one envelope, and so what the outbox
// should do with the report it came from.
type Outcome int

// The outcomes of Send.
const (
	// Delivered: Sentry answered 2xx. Delete the report.
	Delivered Outcome = iota + 1
	// Retry: the envelope may succeed later (5xx, 408, network error,
	// timeout, unexpected status). Keep the report; the caller picks the
	// backoff, at least Result.RetryAfter when that is set.
	Retry
	// RateLimited: Sentry answered 429. Keep the report and send nothing of
	// the limited categories before Result.RetryAfter has passed.
	RateLimited
	// Rejected: Sentry refused this envelope and will refuse it again (400,
	// 413 and other 4xx except 408 and 429). Quarantine the report.
	Rejected
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case RateLimited:
		return "rate limited"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Errors carried by Result.Err, matchable with errors.Is. An error may match
// more than one (a 401 is ErrRejected and ErrUnauthorized; a timeout is
// ErrNetwork and context.DeadlineExceeded).
var (
	// ErrInvalidDSN: the DSN does not parse (sentry.NewDsn refused it).
	ErrInvalidDSN = errors.New("transport: invalid DSN")
	// ErrEmptyEnvelope: there was nothing to send.
	ErrEmptyEnvelope = errors.New("transport: empty envelope")
	// ErrNetwork: no HTTP response (connection refused or reset, closed
	// without an answer, timeout, cancelled context).
	ErrNetwork = errors.New("transport: no response")
	// ErrServer: Sentry answered 5xx or 408.
	ErrServer = errors.New("transport: server error")
	// ErrUnexpectedStatus: an answer that is neither success nor error (1xx, 3xx).
	ErrUnexpectedStatus = errors.New("transport: unexpected status")
	// ErrRateLimited: Sentry answered 429.
	ErrRateLimited = errors.New("transport: rate limited")
	// ErrRejected: Sentry refused the envelope for good (4xx).
	ErrRejected = errors.New("transport: envelope rejected")
	// ErrTooLarge: 413, or a 400 that says the request was too large, always
	// together with ErrRejected. A smaller envelope for the same report may
	// be accepted.
	ErrTooLarge = errors.New("transport: envelope too large")
	// ErrUnauthorized: 401 or 403, always together with ErrRejected. The
	// envelope is fine but the DSN is not (revoked key, disabled project): an
	// outbox may prefer to keep such reports for a corrected DSN rather than
	// quarantine them.
	ErrUnauthorized = errors.New("transport: DSN not authorized")
)

// Rate limit categories (Relay's DataCategory names) that matter for a
// crash envelope.
const (
	// CategoryError is the category of an error event item, which every
	// crash event is (it has an exception).
	CategoryError = "error"
	// CategoryAttachment is the category of attachment items (the crash output).
	CategoryAttachment = "attachment"
	// CategorySession is the category of session and sessions items
	// (Release Health).
	CategorySession = "session"
)

// RateLimit is one entry of the X-Sentry-Rate-Limits response header:
// "retry_after:categories:scope:reason_code:namespaces".
type RateLimit struct {
	// Categories the limit applies to; empty means all.
	Categories []string
	// RetryAfter is how long the categories are limited, from Result.Received.
	RetryAfter time.Duration
	// Scope ("organization", "project", "key") and ReasonCode are
	// informational.
	Scope      string
	ReasonCode string
}

// Applies reports whether the limit covers category.
func (l RateLimit) Applies(category string) bool {
	if len(l.Categories) == 0 {
		return true
	}
	for _, c := range l.Categories {
		if c == category {
			return true
		}
	}
	return false
}

// Result is the outcome of one Send.
type Result struct {
	Outcome Outcome
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// RetryAfter is how long to wait before sending again: for RateLimited
	// always set (the longest limit on error events, else Retry-After, else
	// 60s); for Retry set when the server sent Retry-After, else 0 and the
	// caller's backoff decides.
	RetryAfter time.Duration
	// RateLimits are the parsed X-Sentry-Rate-Limits of the response. Sentry
	// sends them on any status, 2xx included, so even a delivered envelope
	// can say that the next ones must wait; store them (see Until).
	RateLimits []RateLimit
	// Received is when the response (or the failure) came.
	Received time.Time
	// Err is nil for Delivered, else says why, wrapping the sentinel errors
	// above. For Rejected it includes the head of the response body (at most
	// 1 KiB), which says what Sentry disliked.
	Err error
	// BodySize is the size of the request body as sent (after gzip).
	BodySize int
}

// LimitedFor returns how long, from Received, category is rate limited by
// the X-Sentry-Rate-Limits of the response: the longest applying limit, or 0.
func (r Result) LimitedFor(category string) time.Duration {
	var d time.Duration
	for _, l := range r.RateLimits {
		if l.Applies(category) && l.RetryAfter > d {
			d = l.RetryAfter
		}
	}
	return d
}

// Until returns the time before which nothing of category may be sent
// according to the response's X-Sentry-Rate-Limits, or the zero time.
func (r Result) Until(category string) time.Time {
	if d := r.LimitedFor(category); d > 0 {
		return r.Received.Add(d)
	}
	return time.Time{}
}
