package scopesnap

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"maps"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// readScope reads the sentry-go scope of hub as sentry-go would apply it to
// an event captured now: Scope.ApplyToEvent on an empty event, the only
// exported way to read a scope (its fields are unexported and it has no
// getters or observer). ApplyToEvent takes the scope's read lock while it
// copies, which is all a program's SetTag ever waits for, once a second.
//
// What it cannot read, or leaves out on purpose:
//   - attachments and the request (a request on the global scope is rare
//     and is PII; attachments are for events of the live process);
//   - the scope's attributes (for logs and metrics, not events);
//   - scope event processors run, as at every capture: one that drops
//     the event keeps the previous snapshot, one that panics is recovered.
//
// The "trace" context is the scope's propagation context, as sentry-go puts
// it on every error event.
func readScope(hub *sentry.Hub) (s *report.Scope, err error) {
	scope := hub.Scope()
	if scope == nil {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("scopesnap: scope event processor panicked: %v", p)
		}
	}()
	ev := scope.ApplyToEvent(&sentry.Event{}, nil, nil)
	if ev == nil {
		return nil, fmt.Errorf("scopesnap: a scope event processor dropped the snapshot")
	}
	s = &report.Scope{
		Level:       string(ev.Level),
		Fingerprint: ev.Fingerprint,
	}
	if len(ev.Tags) > 0 {
		s.Tags = ev.Tags
	}
	if !ev.User.IsEmpty() {
		u := ev.User
		s.User = &report.User{ID: u.ID, Email: u.Email, IPAddress: u.IPAddress, Username: u.Username, Name: u.Name, Data: u.Data}
	}
	if len(ev.Contexts) > 0 {
		s.Contexts = make(map[string]map[string]any, len(ev.Contexts))
		for k, c := range ev.Contexts {
			s.Contexts[k] = c
		}
	}
	if len(ev.Breadcrumbs) > 0 {
		s.Breadcrumbs = make([]report.Breadcrumb, 0, len(ev.Breadcrumbs))
		for _, b := range ev.Breadcrumbs {
			if b != nil {
				s.Breadcrumbs = append(s.Breadcrumbs, fromSentry(b))
			}
		}
	}
	if c := hub.Client(); c != nil {
		o := c.Options()
		s.MaxBreadcrumbs = o.MaxBreadcrumbs
		s.SendDefaultPII = o.SendDefaultPII
	}
	return s, nil
}

func fromSentry(b *sentry.Breadcrumb) report.Breadcrumb {
	return report.Breadcrumb{
		Timestamp: b.Timestamp, Type: b.Type, Category: b.Category,
		Message: b.Message, Level: string(b.Level), Data: b.Data,
	}
}

// encodeScope is the payload of a scope slot: the unix ns time it was
// first written, then the scope as JSON. The scope is trimmed to fit
// limit bytes: oldest breadcrumbs first, then contexts; nil when even that does
// not fit. Values JSON cannot encode (a channel in a context) are replaced
// by their fmt rendering, as a string.
func encodeScope(s *report.Scope, written time.Time, limit int) []byte {
	body, err := json.Marshal(s)
	if err != nil {
		sanitize(s)
		if body, err = json.Marshal(s); err != nil {
			return nil
		}
	}
	for len(body)+8 > limit {
		switch {
		case len(s.Breadcrumbs) > 0:
			// Drop in proportion to the excess, at least one.
			n := len(s.Breadcrumbs) * (len(body) + 8 - limit) / len(body)
			n = min(max(n, 1), len(s.Breadcrumbs))
			s.Breadcrumbs = s.Breadcrumbs[n:]
			s.BreadcrumbsDropped += n
		case len(s.Contexts) > 0:
			s.Contexts = nil
		default:
			return nil
		}
		if body, err = json.Marshal(s); err != nil {
			return nil
		}
	}
	out := make([]byte, 8, 8+len(body))
	ne.PutUint64(out, uint64(written.UnixNano()))
	return append(out, body...)
}

// sanitize replaces what encoding/json cannot encode in contexts and
// breadcrumb data by its fmt rendering.
func sanitize(s *report.Scope) {
	fix := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		out := maps.Clone(m)
		for k, v := range out {
			if _, err := json.Marshal(v); err != nil {
				out[k] = fmt.Sprintf("%v", v)
			}
		}
		return out
	}
	for k, c := range s.Contexts {
		s.Contexts[k] = fix(c)
	}
	for i := range s.Breadcrumbs {
		s.Breadcrumbs[i].Data = fix(s.Breadcrumbs[i].Data)
	}
}

// decodeScope is encodeScope's inverse.
func decodeScope(p []byte) (*report.Scope, error) {
	if len(p) < 8 {
		return nil, fmt.Errorf("scopesnap: scope payload of %d bytes", len(p))
	}
	var s report.Scope
	if err := json.Unmarshal(p[8:], &s); err != nil {
		return nil, fmt.Errorf("scopesnap: scope payload: %w", err)
	}
	s.Written = time.Unix(0, int64(ne.Uint64(p))).UTC()
	return &s, nil
}

var hashSeed = maphash.MakeSeed()

func hashOf(b []byte) uint64 { return maphash.Bytes(hashSeed, b) }
