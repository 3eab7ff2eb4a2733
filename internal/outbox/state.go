package outbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLastError caps the error text kept in a state file; the first line of
// an HTTP failure is what a human needs, not a whole response body.
const maxLastError = 1024

// State is the delivery state of one report, kept in D/<id>.state. A report
// without a state file has the zero State: never tried, due now.
type State struct {
	// Attempts is how many deliveries failed so far.
	Attempts int `json:"attempts"`
	// LastError is the error of the last failed attempt.
	LastError string `json:"last_error,omitempty"`
	// LastAttempt is when the last attempt failed.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// NextAttempt is the earliest time to try again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// Due reports whether it is time to try the report again at now. A
// NextAttempt more than MaxDelay after now cannot have been set by this
// outbox on a steady clock; the clock went back, and the report is due.
func (s State) Due(now time.Time) bool { return !ahead(s.NextAttempt, now) }

// ahead reports whether t is still to come at now and believable: a stored
// time more than MaxDelay after now was set on a clock that has since gone
// back, and counts as passed (see MaxDelay).
func ahead(t, now time.Time) bool { return t.After(now) && t.Sub(now) <= MaxDelay }

// backoff is the delay after the n-th failed attempt: base * 2^(n-1), at most
// cap, minus up to 20% jitter. The jitter only shortens the delay so that the
// cap stays a cap.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.base
	for i := 1; i < n && d < o.cap; i++ {
		d *= 2
	}
	d = min(d, o.cap)
	return d - time.Duration(float64(d)*0.2*o.rand())
}

// readState reads D/<id>.state; a missing file is the zero State. An error
// for which isBroken is true means the file is unusable, not unreadable.
func (o *Outbox) readState(id string) (State, error) {
	data, err := readSmall(o.statePath(id))
	if err != nil {
		if isNotExist(err) {
			return State{}, nil
		}
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("%w: parse state: %w", ErrCorrupt, err)
	}
	if s.Attempts < 0 {
		return State{}, fmt.Errorf("%w: parse state: negative attempts %d", ErrCorrupt, s.Attempts)
	}
	return s, nil
}

// writeState replaces D/<id>.state atomically.
func (o *Outbox) writeState(id string, s State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = o.writeAtomic(o.statePath(id), data, true)
	return err
}

// errorText is err's message, valid UTF-8, at most maxLastError bytes.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(s) <= maxLastError {
		return s
	}
	cut := maxLastError
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
