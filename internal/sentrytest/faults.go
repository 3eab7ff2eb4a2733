package sentrytest

import (
	"fmt"
	"net/http"
	"time"
)

// faultKind is what an injected fault does.
type faultKind int

const (
	faultStatus    faultKind = iota + 1 // answer a status (FailNext, RejectNext)
	faultRateLimit                      // answer 429 with rate limit headers
	faultDrop                           // close the connection without an answer
)

// fault is one programmed misbehaviour, for the next n requests.
type fault struct {
	kind       faultKind
	n          int
	status     int
	retryAfter string
	rateLimits string
}

// Faults are queued: each applies to the next n requests, after the faults
// queued before it are used up. They apply before any validation, as a
// proxy or an overloaded Sentry would answer before looking at the request.

// FailNext answers the next n requests with status (e.g. 500, 503) and a
// {"detail": ...} body, whatever they contain.
func (s *Server) FailNext(n, status int) {
	s.push(fault{kind: faultStatus, n: n, status: status})
}

// FailNextRetryAfter is FailNext with a Retry-After header, as a 503 may carry.
func (s *Server) FailNextRetryAfter(n, status int, retryAfter string) {
	s.push(fault{kind: faultStatus, n: n, status: status, retryAfter: retryAfter})
}

// RejectNext answers the next n requests with a 4xx status (400, 413, ...)
// as Sentry does for an envelope it will never accept. It panics for a
// status that is not 4xx, to keep tests honest.
func (s *Server) RejectNext(n, status int) {
	if status < 400 || status > 499 {
		panic(fmt.Sprintf("sentrytest: RejectNext(%d): not a 4xx status", status))
	}
	s.push(fault{kind: faultStatus, n: n, status: status})
}

// RateLimitNext answers the next n requests 429 with the given Retry-After
// and X-Sentry-Rate-Limits headers (each left out when empty).
func (s *Server) RateLimitNext(n int, retryAfter, rateLimits string) {
	s.push(fault{kind: faultRateLimit, n: n, retryAfter: retryAfter, rateLimits: rateLimits})
}

// DropNext closes the connection of the next n requests, after reading them,
// without any answer.
func (s *Server) DropNext(n int) {
	s.push(fault{kind: faultDrop, n: n})
}

// Slow delays every answer by d from now on (0 ends it). A client that
// gives up meanwhile is counted as Abandoned; Close ends the delay.
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetRateLimits makes successful answers carry this X-Sentry-Rate-Limits
// header ("" for none), as Sentry does when a quota is nearly used up.
func (s *Server) SetRateLimits(header string) {
	s.mu.Lock()
	s.rateLimits = header
	s.mu.Unlock()
}

func (s *Server) push(f fault) {
	if f.n <= 0 {
		return
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// nextFault takes one use of the first queued fault.
func (s *Server) nextFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	if s.faults[0].n--; s.faults[0].n == 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

// inject answers a request with fault f. The request is counted before the
// answer is written, so a client that has its answer sees the count.
func (s *Server) inject(w http.ResponseWriter, f fault) {
	switch f.kind {
	case faultDrop:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("sentrytest: connection cannot be hijacked")
		}
		conn, _, err := hj.Hijack()
		s.record(func() { s.counts.Dropped++ })
		if err == nil {
			_ = conn.Close()
		}
	case faultRateLimit:
		s.record(func() { s.counts.RateLimited++ })
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		if f.rateLimits != "" {
			w.Header().Set("X-Sentry-Rate-Limits", f.rateLimits)
		}
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"detail": "rate limited (injected)"})
	case faultStatus:
		s.record(func() {
			switch {
			case f.status == http.StatusTooManyRequests:
				s.counts.RateLimited++
			case f.status >= 400 && f.status < 500:
				s.counts.Rejected++
			default:
				s.counts.Failed++
			}
		})
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(w, f.status, map[string]string{"detail": fmt.Sprintf("injected %d", f.status)})
	}
}
