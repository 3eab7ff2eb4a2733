// Package delivery drains the outbox to Sentry: the second half of
// crashguard's pipeline. Each report is claimed (so no two processes send it),
// turned into an envelope, posted, and then deleted (2xx), kept with backoff
// (5xx, network), kept until the rate limit ends (429) or quarantined
// (a refusal that can never succeed).
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// ErrNotDelivered is returned when reports remain in the outbox after a pass.
var ErrNotDelivered = errors.New("delivery: reports remain in the outbox")

// Sender delivers the reports of one outbox.
type Sender struct {
	Outbox    *outbox.Outbox
	Transport *transport.Sender
	Event     sentryevent.Options
	// Logger gets one line per report; nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stats counts what one pass did.
type Stats struct {
	Delivered   int // accepted by Sentry (2xx) and deleted
	Dropped     int // dropped by BeforeSend and deleted
	Quarantined int // refused for good and moved to quarantine/
	Kept        int // still in the outbox: failed, rate limited, not due, or busy
}

// SendAll tries every report in the outbox once. With honourBackoff, reports
// whose retry time has not come are skipped (the background pass at Install);
// without, they are tried now (an explicit Flush). Rate limits are always
// honoured: Sentry asked for silence. It returns ErrNotDelivered (with the
// reasons joined) when reports remain.
func (s *Sender) SendAll(ctx context.Context, honourBackoff bool) (Stats, error) {
	var st Stats
	entries, err := s.Outbox.List()
	if err != nil {
		return st, err
	}
	var errs []error
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			st.Kept += len(entries) - i
			errs = append(errs, err)
			break
		}
		if until, limited := s.Outbox.RateLimited(transport.CategoryError, s.now()); limited {
			st.Kept += len(entries) - i
			errs = append(errs, fmt.Errorf("rate limited by Sentry until %s", until.Format(time.RFC3339)))
			break
		}
		if honourBackoff && !e.State.Due(s.now()) {
			st.Kept++
			errs = append(errs, fmt.Errorf("report %s: next attempt at %s", e.ID, e.State.NextAttempt.Format(time.RFC3339)))
			continue
		}
		outcome, err := s.sendOne(ctx, e.ID)
		if err != nil && outcome != kept {
			// The outcome stands (Sentry has it, or it is quarantined), but
			// the outbox could not record it: a delivered report left behind
			// is resent and deduplicated by its event id.
			s.log().Warn("crashguard: outbox update failed", "event_id", e.ID, "err", err)
		}
		switch outcome {
		case delivered:
			st.Delivered++
		case dropped:
			st.Dropped++
		case quarantined:
			st.Quarantined++
		case gone:
		default:
			st.Kept++
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("%w: %w", ErrNotDelivered, errors.Join(errs...))
	}
	return st, nil
}

type outcome int

const (
	kept outcome = iota
	delivered
	dropped
	quarantined
	gone
)

func (s *Sender) sendOne(ctx context.Context, id string) (outcome, error) {
	c, err := s.Outbox.Claim(id)
	switch {
	case errors.Is(err, outbox.ErrGone):
		return gone, nil
	case errors.Is(err, outbox.ErrCorrupt):
		return quarantined, nil // moved to quarantine by Claim, with the reason
	case err != nil:
		return kept, err // ErrBusy: another process is sending it
	}
	defer c.Release()
	r := c.Report()

	env, err := sentryevent.Envelope(r, s.Event)
	switch {
	case errors.Is(err, sentryevent.ErrDropped):
		s.log().Info("crashguard: report dropped by BeforeSend", "event_id", id)
		return dropped, c.Delivered()
	case errors.Is(err, sentryevent.ErrInvalidReport):
		s.log().Warn("crashguard: report cannot become an event; quarantined", "event_id", id, "err", err)
		return quarantined, c.Quarantine(err.Error())
	case err != nil:
		// BeforeSend panicked, or a marshal failure: nothing the network can
		// fix, but the user's callback may be fixed by the next release.
		return kept, c.Failed(err, 0)
	}

	res := s.Transport.Send(ctx, env)
	s.storeRateLimits(res)
	log := s.log().With("event_id", id, "status", res.StatusCode, "outcome", res.Outcome.String())
	switch res.Outcome {
	case transport.Delivered:
		log.Info("crashguard: report delivered")
		return delivered, c.Delivered()
	case transport.Rejected:
		if errors.Is(res.Err, transport.ErrUnauthorized) {
			// The envelope is fine, the DSN is not: keep the report for the
			// corrected DSN of a later release.
			log.Warn("crashguard: Sentry refused the DSN; report kept", "err", res.Err)
			return kept, errors.Join(res.Err, c.Failed(res.Err, 0))
		}
		log.Warn("crashguard: Sentry refused the report for good; quarantined", "err", res.Err)
		return quarantined, c.Quarantine(res.Err.Error())
	case transport.RateLimited:
		log.Info("crashguard: rate limited; report kept", "retry_after", res.RetryAfter)
		return kept, errors.Join(res.Err, c.Failed(res.Err, res.RetryAfter))
	default:
		log.Info("crashguard: delivery failed; report kept", "err", res.Err)
		return kept, errors.Join(res.Err, c.Failed(res.Err, res.RetryAfter))
	}
}

// storeRateLimits records the limits Sentry announced, on any answer (a 2xx
// may carry X-Sentry-Rate-Limits too), so every process using this outbox
// respects them.
func (s *Sender) storeRateLimits(res transport.Result) {
	until := res.Until(transport.CategoryError) // includes limits on all categories
	if until.IsZero() && res.Outcome == transport.RateLimited {
		// A bare 429 with Retry-After (or its 60s default) limits everything.
		until = res.Received.Add(res.RetryAfter)
	}
	if !until.After(s.now()) {
		return
	}
	if err := s.Outbox.SetRateLimit(transport.CategoryError, until); err != nil {
		s.log().Warn("crashguard: cannot store rate limit", "err", err)
	}
}

func (s *Sender) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
