package crashguard

import (
	"context"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/delivery"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// deliver sends what the outbox holds, with the HTTP client sentry-go would
// use (httpClient). honourBackoff is false for an explicit Flush: the user
// asked for an attempt now.
func (g *Guard) deliver(ctx context.Context, honourBackoff bool) error {
	tr, err := transport.NewSender(g.s.dsn, transport.Options{Client: httpClient(g.opts)})
	if err != nil {
		return err
	}
	ev := sentryevent.Options{Dsn: g.s.dsn, OmitCrashOutput: g.opts.OmitCrashOutput}
	if bs := g.opts.Sentry.BeforeSend; bs != nil {
		ev.BeforeSend = func(e *sentry.Event) *sentry.Event { return bs(e, &sentry.EventHint{}) }
	}
	s := &delivery.Sender{Outbox: g.outbox.Outbox, Transport: tr, Event: ev, Logger: g.s.logger}
	_, err = s.SendAll(ctx, honourBackoff)
	// A Guard that captures nothing (the monitor, the crashguard command,
	// a sidecar) may be the only one that ever sends: it sends the spool
	// whole; a program's own start or Flush only when it is due.
	g.sendSessions(ctx, tr, g.run == nil)
	return err
}
