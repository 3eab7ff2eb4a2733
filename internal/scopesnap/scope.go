package scopesnap

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"maps"
	"reflect"
	"slices"
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
func readScope(hub *sentry.Hub) (*report.Scope, error) {
	r, err := readRaw(hub)
	if err != nil || r == nil {
		return nil, err
	}
	return r.scope(true), nil
}

// raw is the scope as ApplyToEvent gave it: fresh maps and slices, with
// the breadcrumbs' pointers and the contexts' values shared with the
// scope.
type raw struct {
	ev  *sentry.Event
	max int
	pii bool
}

func readRaw(hub *sentry.Hub) (r *raw, err error) {
	scope := hub.Scope()
	if scope == nil {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("scopesnap: scope event processor panicked: %v", p)
		}
	}()
	ev := scope.ApplyToEvent(&sentry.Event{}, nil, nil)
	if ev == nil {
		return nil, fmt.Errorf("scopesnap: a scope event processor dropped the snapshot")
	}
	r = &raw{ev: ev}
	if c := hub.Client(); c != nil {
		o := c.Options()
		r.max, r.pii = o.MaxBreadcrumbs, o.SendDefaultPII
	}
	return r, nil
}

// same reports whether r holds what o held, without encoding either:
// the same breadcrumbs (by pointer: sentry-go never changes a breadcrumb
// once added), tags, user, level, fingerprint and contexts (by value).
// This is what makes an unchanged look cheap.
func (r *raw) same(o *raw) bool {
	if o == nil || r.max != o.max || r.pii != o.pii {
		return false
	}
	a, b := r.ev, o.ev
	if a.Level != b.Level || !slices.Equal(a.Fingerprint, b.Fingerprint) || !maps.Equal(a.Tags, b.Tags) ||
		len(a.Breadcrumbs) != len(b.Breadcrumbs) || len(a.Contexts) != len(b.Contexts) {
		return false
	}
	ua, ub := a.User, b.User
	if ua.ID != ub.ID || ua.Email != ub.Email || ua.IPAddress != ub.IPAddress || ua.Username != ub.Username ||
		ua.Name != ub.Name || !maps.Equal(ua.Data, ub.Data) {
		return false
	}
	for i := range a.Breadcrumbs {
		if a.Breadcrumbs[i] != b.Breadcrumbs[i] {
			return false
		}
	}
	for k, c := range a.Contexts {
		d, ok := b.Contexts[k]
		if !ok || !reflect.DeepEqual(c, d) {
			return false
		}
	}
	return true
}

// scope converts r to the report's form, with or without breadcrumbs.
func (r *raw) scope(crumbs bool) *report.Scope {
	ev := r.ev
	s := &report.Scope{
		Level:          string(ev.Level),
		Fingerprint:    ev.Fingerprint,
		MaxBreadcrumbs: r.max,
		SendDefaultPII: r.pii,
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
	if crumbs && len(ev.Breadcrumbs) > 0 {
		s.Breadcrumbs = make([]report.Breadcrumb, 0, len(ev.Breadcrumbs))
		for _, b := range ev.Breadcrumbs {
			if b != nil {
				s.Breadcrumbs = append(s.Breadcrumbs, fromSentry(b))
			}
		}
	}
	return s
}

func fromSentry(b *sentry.Breadcrumb) report.Breadcrumb {
	return report.Breadcrumb{
		Timestamp: b.Timestamp, Type: b.Type, Category: b.Category,
		Message: b.Message, Level: string(b.Level), Data: b.Data,
	}
}

// encodeScope is the payload of a scope slot: the unix ns time it was
// first written, then the scope as JSON, trimmed to fit limit bytes (see
// assemble).
func encodeScope(s *report.Scope, written time.Time, limit int) []byte {
	crumbs := make([][]byte, 0, len(s.Breadcrumbs))
	for i := range s.Breadcrumbs {
		if js := marshalCrumb(&s.Breadcrumbs[i]); js != nil {
			crumbs = append(crumbs, js)
		}
	}
	rest := *s
	rest.Breadcrumbs = nil
	return assemble(&rest, crumbs, written, limit)
}

// crumbCache holds the JSON of breadcrumbs by pointer: sentry-go never
// changes a breadcrumb once added, so each is encoded once, not at every
// snapshot (the breadcrumbs are most of a scope's encoding).
type crumbCache map[*sentry.Breadcrumb][]byte

// encode is encodeScope for a scope as read, with the breadcrumbs' JSON
// from cache; it returns the cache of this scope's breadcrumbs.
func (r *raw) encode(written time.Time, limit int, cache crumbCache) ([]byte, crumbCache) {
	next := make(crumbCache, len(r.ev.Breadcrumbs))
	crumbs := make([][]byte, 0, len(r.ev.Breadcrumbs))
	for _, b := range r.ev.Breadcrumbs {
		if b == nil {
			continue
		}
		js, ok := cache[b]
		if !ok {
			c := fromSentry(b)
			js = marshalCrumb(&c)
		}
		if js != nil {
			next[b] = js
			crumbs = append(crumbs, js)
		}
	}
	rest := r.scope(false)
	return assemble(rest, crumbs, written, limit), next
}

// marshalCrumb encodes b; data JSON cannot encode (a channel) becomes its
// fmt rendering. Nil when it still cannot be encoded.
func marshalCrumb(b *report.Breadcrumb) []byte {
	js, err := json.Marshal(b)
	if err != nil {
		c := *b
		c.Data = sanitizeMap(c.Data)
		if js, err = json.Marshal(&c); err != nil {
			return nil
		}
	}
	return js
}

// assemble writes the payload: written, then s (which has no breadcrumbs)
// as JSON with the encoded breadcrumbs put in. When that is over limit
// bytes, the oldest breadcrumbs are left out (counted in
// BreadcrumbsDropped), then the contexts; nil when even that is too
// large.
func assemble(s *report.Scope, crumbs [][]byte, written time.Time, limit int) []byte {
	body, err := json.Marshal(s)
	if err != nil {
		sanitize(s)
		if body, err = json.Marshal(s); err != nil {
			return nil
		}
	}
	const frame = len(`,"breadcrumbs":[]`)
	size := func() int {
		n := 8 + len(body)
		if len(crumbs) > 0 {
			n += frame + len(crumbs) - 1
			for _, c := range crumbs {
				n += len(c)
			}
		}
		return n
	}
	for size() > limit {
		switch {
		case len(crumbs) > 0:
			over := size() - limit
			n := 0
			for freed := 0; freed < over && n < len(crumbs); n++ {
				freed += len(crumbs[n]) + 1
			}
			crumbs = crumbs[n:]
			s.BreadcrumbsDropped += n
		case len(s.Contexts) > 0:
			s.Contexts = nil
		default:
			return nil
		}
		// The count (and the contexts' absence) change the body a little.
		if body, err = json.Marshal(s); err != nil {
			return nil
		}
	}
	out := make([]byte, 8, size())
	ne.PutUint64(out, uint64(written.UnixNano()))
	if len(crumbs) == 0 {
		return append(out, body...)
	}
	out = append(out, body[:len(body)-1]...) // without the closing brace
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"breadcrumbs":[`...)
	for i, c := range crumbs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, c...)
	}
	return append(out, "]}"...)
}

// sanitize replaces what encoding/json cannot encode in contexts and
// breadcrumb data by its fmt rendering.
func sanitize(s *report.Scope) {
	for k, c := range s.Contexts {
		s.Contexts[k] = sanitizeMap(c)
	}
	for i := range s.Breadcrumbs {
		s.Breadcrumbs[i].Data = sanitizeMap(s.Breadcrumbs[i].Data)
	}
}

func sanitizeMap(m map[string]any) map[string]any {
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
