package crashguard

import (
	"context"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/delivery"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// deliver sends what the outbox holds. honourBackoff is false for an explicit
// Flush: the user asked for an attempt now. A nil Options.HTTPClient means
// the transport's own client and timeout.
func (g *Guard) deliver(ctx context.Context, honourBackoff bool) error {
	tr, err := transport.NewSender(g.s.dsn, transport.Options{Client: g.opts.HTTPClient})
	if err != nil {
		return err
	}
	ev := sentryevent.Options{Dsn: g.s.dsn}
	if bs := g.opts.Sentry.BeforeSend; bs != nil {
		ev.BeforeSend = func(e *sentry.Event) *sentry.Event { return bs(e, &sentry.EventHint{}) }
	}
	s := &delivery.Sender{Outbox: g.outbox.Outbox, Transport: tr, Event: ev, Logger: g.s.logger}
	_, err = s.SendAll(ctx, honourBackoff)
	return err
}
