package scopesnap

import (
	"encoding/json"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// active is the mapping of this process's run, nil until Start created it.
var active atomic.Pointer[snapshotter]

// ringCrumb is a breadcrumb as a ring entry holds it.
type ringCrumb struct {
	TS       int64          `json:"ts"` // unix ns
	Type     string         `json:"type,omitempty"`
	Category string         `json:"category,omitempty"`
	Message  string         `json:"message,omitempty"`
	Level    string         `json:"level,omitempty"`
	Data     map[string]any `json:"data,omitempty"`
	// Cut is true when data was left out or the message cut to fit.
	Cut bool `json:"cut,omitempty"`
}

// AddBreadcrumb records b in the ring of this process's mapping, for a
// BeforeBreadcrumb hook. It sets b.Timestamp to now when it is zero, as
// sentry-go's Scope.AddBreadcrumb would right after the hook, so that the
// ring and the scope hold the same time (the merge recognises a breadcrumb
// seen in both by it). Before the mapping exists (the first milliseconds
// after Install) it records nothing: those breadcrumbs reach the event
// through the scope snapshot. Cost: one JSON encoding and a copy into
// shared memory, no syscall, no lock.
func AddBreadcrumb(b *sentry.Breadcrumb) {
	if b == nil {
		return
	}
	if b.Timestamp.IsZero() {
		b.Timestamp = time.Now()
	}
	s := active.Load()
	if s == nil {
		return
	}
	if p := encodeCrumb(b); p != nil {
		s.m.addRing(p)
	}
	s.nudge()
}

// encodeCrumb encodes b to fit a ring entry: data left out, then the
// message cut, when it is too large.
func encodeCrumb(b *sentry.Breadcrumb) []byte {
	c := ringCrumb{TS: b.Timestamp.UnixNano(), Type: b.Type, Category: b.Category,
		Message: b.Message, Level: string(b.Level), Data: b.Data}
	const room = ringEntrySize - slotHead
	p, err := json.Marshal(&c)
	if err == nil && len(p) <= room {
		return p
	}
	c.Data, c.Cut = nil, true
	if p, err = json.Marshal(&c); err == nil && len(p) <= room {
		return p
	}
	// Cut the message until the entry fits (escaping may make it longer
	// than its bytes, hence the loop).
	c.Message = ""
	base, err := json.Marshal(&c)
	if err != nil {
		return nil
	}
	msg := b.Message
	for keep := room - len(base) - 4; keep > 0; keep = keep * 3 / 4 {
		if keep < len(msg) {
			msg = msg[:keep]
			for len(msg) > 0 && !utf8.ValidString(msg) {
				msg = msg[:len(msg)-1]
			}
		}
		c.Message = msg + "…"
		if p, err = json.Marshal(&c); err == nil && len(p) <= room {
			return p
		}
	}
	return base
}

func decodeCrumb(p []byte) (report.Breadcrumb, bool) {
	var c ringCrumb
	if err := json.Unmarshal(p, &c); err != nil {
		return report.Breadcrumb{}, false
	}
	return report.Breadcrumb{Timestamp: time.Unix(0, c.TS).UTC(), Type: c.Type, Category: c.Category,
		Message: c.Message, Level: c.Level, Data: c.Data}, true
}
