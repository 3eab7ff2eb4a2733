package scopesnap

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/jsonstr"
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
	var buf [ringEntrySize]byte // on the stack: no allocation but Data's encoding
	if p := appendCrumb(buf[:0], b); p != nil {
		s.m.addRing(p)
	}
	s.nudge()
}

// appendCrumb appends b's ring entry to dst (the JSON of ringCrumb,
// written by hand: encoding/json's reflection is most of the hook's cost
// otherwise); when it is too large for an entry, data is left out, then
// the message cut (marked "…"), and Cut set. Nil when even that does not
// fit (a type or category of a kilobyte).
func appendCrumb(dst []byte, b *sentry.Breadcrumb) []byte {
	const room = ringEntrySize - slotHead
	var data []byte
	if len(b.Data) > 0 {
		var buf [ringEntrySize]byte
		data = appendData(buf[:0], b.Data)
	}
	head := func(dst []byte) []byte {
		dst = append(dst, `{"ts":`...)
		dst = strconv.AppendInt(dst, b.Timestamp.UnixNano(), 10)
		dst = appendField(dst, "type", b.Type)
		dst = appendField(dst, "category", b.Category)
		return appendField(dst, "level", string(b.Level))
	}
	p := head(dst)
	p = appendField(p, "message", b.Message)
	if data != nil {
		p = append(append(p, `,"data":`...), data...)
	}
	if p = append(p, '}'); len(p) <= room {
		return p
	}
	// Too large: no data, and as much of the message as fits.
	p = head(dst[:0])
	base := len(p) + len(`,"cut":true}`)
	if base > room {
		return nil
	}
	msg := strings.TrimSuffix(b.Message, "…")
	for {
		q := appendField(p, "message", msg+"…")
		if len(q)+len(`,"cut":true}`) <= room {
			return append(q, `,"cut":true}`...)
		}
		// Keep the share of the message that fits, by its escaped size
		// (escaping makes some bytes longer), at a rune boundary; at
		// least one byte less each time.
		avail := room - base - len(`,"message":"…"`)
		keep := min(len(msg)*avail/(len(q)-len(p)), len(msg)-1)
		if keep <= 0 {
			return append(p, `,"cut":true}`...)
		}
		for keep > 0 && !utf8.RuneStart(msg[keep]) {
			keep--
		}
		msg = msg[:keep]
	}
}

// appendData appends m as a JSON object: strings, booleans, integers and
// finite floats by hand, anything else through encoding/json (its fmt
// rendering, as a string, when JSON cannot encode it).
func appendData(dst []byte, m map[string]any) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range m {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(jsonstr.Append(dst, k), ':')
		switch v := v.(type) {
		case nil:
			dst = append(dst, "null"...)
		case string:
			dst = jsonstr.Append(dst, v)
		case bool:
			dst = strconv.AppendBool(dst, v)
		case int:
			dst = strconv.AppendInt(dst, int64(v), 10)
		case int64:
			dst = strconv.AppendInt(dst, v, 10)
		case int32:
			dst = strconv.AppendInt(dst, int64(v), 10)
		case uint64:
			dst = strconv.AppendUint(dst, v, 10)
		case uint:
			dst = strconv.AppendUint(dst, uint64(v), 10)
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				dst = jsonstr.Append(dst, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
			}
		default:
			js, err := json.Marshal(v)
			if err != nil {
				js = jsonstr.Append(nil, fmt.Sprintf("%v", v))
			}
			dst = append(dst, js...)
		}
	}
	return append(dst, '}')
}

// appendField appends ,"key":"v" unless v is empty.
func appendField(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(append(append(dst, ',', '"'), key...), '"', ':')
	return jsonstr.Append(dst, v)
}

// decodeCrumb reads a ring entry; cut is true when it lost its data or
// the end of its message to fit.
func decodeCrumb(p []byte) (b report.Breadcrumb, cut, ok bool) {
	var c ringCrumb
	if err := json.Unmarshal(p, &c); err != nil {
		return report.Breadcrumb{}, false, false
	}
	return report.Breadcrumb{Timestamp: time.Unix(0, c.TS).UTC(), Type: c.Type, Category: c.Category,
		Message: c.Message, Level: c.Level, Data: c.Data}, c.Cut, true
}

// Running reports whether a snapshotter has started (its file created and
// its header written): the start-up allocations are behind it.
func Running() bool { return active.Load() != nil }
