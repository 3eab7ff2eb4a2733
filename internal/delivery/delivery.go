// Package delivery drains the outbox to Sentry: the second half of
// crashguard's pipeline. Each report is claimed (so no two processes send it),
// turned into an envelope, posted, and then deleted (2xx), kept with backoff
// (5xx, network), kept until the rate limit ends (429) or quarantined
// (a refusal that can never succeed).
//
// The envelope is fitted to Sentry's size limits (sentryevent's budget). If
// Sentry still says it is too large (413), the report is sent again at once
// in the smaller form (sentryevent.SmallEventBudget,
// sentryevent.SmallAttachmentSize); only when that is refused too is it
// quarantined. A quarantined report was not delivered, and the pass says so:
// its error matches ErrNotDelivered and ErrRejected.
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

// ErrNotDelivered is returned when reports remain in the outbox after a pass,
// or were refused and quarantined (then with ErrRejected).
// Its text names crashguard, not this package: it reaches users as
// crashguard.ErrNotDelivered, from Flush.
var ErrNotDelivered = errors.New("crashguard: reports not delivered")

// ErrRejected is joined into SendAll's error (with ErrNotDelivered) for each
// report that was moved to quarantine/ instead of being delivered: Sentry
// refused it for good (400, 413 even in the smaller form, other 4xx), or it
// cannot become an event that Sentry would accept. The reason is logged and
// kept beside the report in quarantine/.
var ErrRejected = errors.New("delivery: report refused and quarantined, not delivered")

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
	Quarantined int // refused for good (or unreadable) and moved to quarantine/
	Kept        int // still in the outbox: failed, rate limited, not due, or busy
	// Shrunk counts the delivered reports that Sentry took only in the
	// smaller form, after refusing the first as too large.
	Shrunk int
	// Pruned counts reports the outbox caps removed unsent before the pass
	// (outbox.Prune); the next event delivered says how many.
	Pruned int
	// Folded counts the crashes that the delivered events stood for besides
	// their own: reports folded by the crash-loop rule (outbox.ErrFolded).
	Folded int
}

// SendAll tries every report in the outbox once. With honourBackoff, reports
// whose retry time has not come are skipped (the background pass at Install);
// without, they are tried now (an explicit Flush). Rate limits are always
// honoured: Sentry asked for silence. It returns ErrNotDelivered (with the
// reasons joined) when reports remain.
func (s *Sender) SendAll(ctx context.Context, honourBackoff bool) (Stats, error) {
	var st Stats
	// The caps first: what is over them is not worth a request.
	if ps, err := s.Outbox.Prune(); err != nil {
		s.log().Warn("crashguard: apply the outbox caps", "err", err)
	} else {
		st.Pruned = ps.Removed()
	}
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
		outcome, folded, err := s.sendOne(ctx, e.ID)
		if err != nil && outcome != kept && outcome != refused {
			// The outcome stands (Sentry has it, or it is quarantined), but
			// the outbox could not record it: a delivered report left behind
			// is resent and deduplicated by its event id.
			s.log().Warn("crashguard: outbox update failed", "event_id", e.ID, "err", err)
		}
		switch outcome {
		case delivered, deliveredSmall:
			st.Delivered++
			st.Folded += folded
			if outcome == deliveredSmall {
				st.Shrunk++
			}
		case refused:
			st.Quarantined++
			errs = append(errs, fmt.Errorf("%w: report %s: %w", ErrRejected, e.ID, err))
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
	quarantined // unreadable file, moved away by Claim; not a crash to report
	refused     // quarantined: Sentry refused it, or it cannot be an event
	gone
	deliveredSmall // delivered in the smaller form after a 413
)

// sendOne sends report id; folded is how many folded crashes its event
// carried (outbox.TakeFolded), counted only when it was delivered.
func (s *Sender) sendOne(ctx context.Context, id string) (_ outcome, folded int, _ error) {
	c, err := s.Outbox.Claim(id)
	switch {
	case errors.Is(err, outbox.ErrGone):
		return gone, 0, nil
	case errors.Is(err, outbox.ErrCorrupt):
		return quarantined, 0, nil // moved to quarantine by Claim, with the reason
	case err != nil:
		return kept, 0, err // ErrBusy: another process is sending it
	}
	defer c.Release()
	r := c.Report()

	// The crash-loop counts this event carries are taken now, so that no
	// other sender carries them too, and given back unless it is delivered.
	carried, err := s.Outbox.TakeFolded(r)
	if err != nil {
		s.log().Warn("crashguard: crash-loop counts not readable; event sent without them", "event_id", id, "err", err)
	}
	o, err := s.sendClaimed(ctx, c, carried)
	if o != delivered && o != deliveredSmall {
		if rerr := s.Outbox.ReturnFolded(carried); rerr != nil {
			s.log().Warn("crashguard: crash-loop counts lost", "event_id", id, "folded", carried.Folded, "dropped", carried.Dropped, "err", rerr)
		}
		return o, 0, err
	}
	return o, carried.Folded, err
}

// eventOptions are the sender's event options with the counts an event
// carries in its "crashguard" context: folded_crashes (crashes of the same
// fingerprint folded into this event by the crash-loop rule) and
// dropped_reports (reports the outbox caps removed unsent).
func (s *Sender) eventOptions(carried outbox.Carried) sentryevent.Options {
	opts := s.Event
	if carried.Folded == 0 && carried.Dropped == 0 {
		return opts
	}
	ctx := map[string]any{}
	for k, v := range s.Event.Context {
		ctx[k] = v
	}
	if carried.Folded > 0 {
		ctx["folded_crashes"] = carried.Folded
		ctx["crash_loop_fingerprint"] = carried.Fingerprint
	}
	if carried.Dropped > 0 {
		ctx["dropped_reports"] = carried.Dropped
	}
	opts.Context = ctx
	return opts
}

// sendClaimed sends the claimed report c, carrying carried.
func (s *Sender) sendClaimed(ctx context.Context, c *outbox.Claim, carried outbox.Carried) (outcome, error) {
	id, r := c.ID(), c.Report()
	event := s.eventOptions(carried)
	env, fit, err := sentryevent.EnvelopeFit(r, event)
	switch {
	case errors.Is(err, sentryevent.ErrDropped):
		s.log().Info("crashguard: report dropped by BeforeSend", "event_id", id)
		return dropped, c.Delivered()
	case errors.Is(err, sentryevent.ErrInvalidReport), errors.Is(err, sentryevent.ErrEventTooLarge):
		s.log().Warn("crashguard: report cannot become an event Sentry accepts; quarantined", "event_id", id, "err", err)
		return refused, errors.Join(err, c.Quarantine(err.Error()))
	case err != nil:
		// BeforeSend panicked, or a marshal failure: nothing the network can
		// fix, but the user's callback may be fixed by the next release.
		return kept, c.Failed(err, 0)
	}
	if fit.Trimmed() {
		s.log().Info("crashguard: event fitted to Sentry's size limit", "event_id", id, "event_bytes", fit.EventSize,
			"threads", fit.Threads, "folded", fit.ThreadsFolded, "omitted", fit.ThreadsOmitted,
			"values_cut", fit.ValuesCut, "attachments_cut", fit.AttachmentsCut)
	}

	res := s.Transport.Send(ctx, env)
	s.storeRateLimits(res)
	small := false
	if res.Outcome == transport.Rejected && errors.Is(res.Err, transport.ErrTooLarge) {
		// Sentry's limit is tighter than the budget (a self-hosted Relay, a
		// proxy): send the smaller form at once, if there is one. Sentry
		// asks SDKs not to resend a refused envelope; this one is different.
		first := res
		opts := event
		opts.MaxEventSize = min(positive(opts.MaxEventSize, sentryevent.SmallEventBudget), sentryevent.SmallEventBudget)
		opts.MaxAttachmentSize = min(positive(opts.MaxAttachmentSize, sentryevent.SmallAttachmentSize), sentryevent.SmallAttachmentSize)
		env2, fit2, err := sentryevent.EnvelopeFit(r, opts)
		// Smaller means more was left out, not fewer bytes: the envelope's
		// sent_at alone changes its length from one build to the next.
		if err != nil || left(fit2) <= left(fit) {
			why := fmt.Errorf("HTTP %d too large: refused with a %d-byte event item and a %d-byte envelope, which cannot be made smaller: %w",
				first.StatusCode, fit.EventSize, len(env), errors.Join(first.Err, err))
			s.log().Warn("crashguard: Sentry refused the report as too large; quarantined", "event_id", id, "status", first.StatusCode, "err", first.Err)
			return refused, errors.Join(why, c.Quarantine(why.Error()))
		}
		s.log().Info("crashguard: Sentry refused the report as too large; sending it smaller", "event_id", id,
			"status", first.StatusCode, "event_bytes", fit.EventSize, "smaller_event_bytes", fit2.EventSize,
			"envelope_bytes", len(env), "smaller_envelope_bytes", len(env2))
		res = s.Transport.Send(ctx, env2)
		s.storeRateLimits(res)
		small = true
		if res.Outcome == transport.Rejected && !errors.Is(res.Err, transport.ErrUnauthorized) {
			why := fmt.Errorf("HTTP %d too large: refused with a %d-byte event item (%d-byte envelope), then with %d bytes (%d-byte envelope): %w",
				first.StatusCode, fit.EventSize, len(env), fit2.EventSize, len(env2), res.Err)
			s.log().Warn("crashguard: Sentry refused the report as too large, also smaller; quarantined", "event_id", id,
				"status", res.StatusCode, "err", res.Err)
			return refused, errors.Join(why, c.Quarantine(why.Error()))
		}
	}
	log := s.log().With("event_id", id, "status", res.StatusCode, "outcome", res.Outcome.String())
	switch res.Outcome {
	case transport.Delivered:
		log.Info("crashguard: report delivered", "body_bytes", res.BodySize, "smaller_form", small,
			"folded_crashes", carried.Folded, "dropped_reports", carried.Dropped)
		if small {
			return deliveredSmall, c.Delivered()
		}
		return delivered, c.Delivered()
	case transport.Rejected:
		if errors.Is(res.Err, transport.ErrUnauthorized) {
			// The envelope is fine, the DSN is not: keep the report for the
			// corrected DSN of a later release.
			log.Warn("crashguard: Sentry refused the DSN; report kept", "err", res.Err)
			return kept, errors.Join(res.Err, c.Failed(res.Err, 0))
		}
		log.Warn("crashguard: Sentry refused the report for good; quarantined", "err", res.Err)
		return refused, errors.Join(res.Err, c.Quarantine(res.Err.Error()))
	case transport.RateLimited:
		log.Info("crashguard: rate limited; report kept", "retry_after", res.RetryAfter)
		return kept, errors.Join(res.Err, c.Failed(res.Err, res.RetryAfter))
	default:
		log.Info("crashguard: delivery failed; report kept", "err", res.Err)
		return kept, errors.Join(res.Err, c.Failed(res.Err, res.RetryAfter))
	}
}

// positive is v, or def when v is not set.
func positive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// storeRateLimits records the limits Sentry announced, on any answer (a 2xx
// may carry X-Sentry-Rate-Limits too), so every process using this outbox
// respects them.
func (s *Sender) storeRateLimits(res transport.Result) {
	// An event's answer may limit sessions too: kept for the sessions
	// spool's sender, which posts after the events.
	for _, c := range []string{transport.CategoryError, transport.CategorySession} {
		until := res.Until(c) // includes limits on all categories
		if until.IsZero() && res.Outcome == transport.RateLimited {
			// A bare 429 with Retry-After (or its 60s default) limits everything.
			until = res.Received.Add(res.RetryAfter)
		}
		if !until.After(s.now()) {
			continue
		}
		if err := s.Outbox.SetRateLimit(c, until); err != nil {
			s.log().Warn("crashguard: cannot store rate limit", "err", err)
		}
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

// left is how much of the report a fitted event leaves out: goroutines
// folded or omitted, values and attachments cut.
func left(f sentryevent.Fit) int {
	return f.ThreadsFolded + f.ThreadsOmitted + f.ValuesCut + f.AttachmentsCut
}
