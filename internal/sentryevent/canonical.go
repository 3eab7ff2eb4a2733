package sentryevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/getsentry/sentry-go"
)

// extras are the parts of the event sentry-go's types cannot carry. Each is
// tied to the object it belongs to by pointer, so it follows that object if
// BeforeSend reorders exceptions, and is dropped if BeforeSend replaces it.
type extras struct {
	mechanism *sentry.Mechanism
	mech      mechanismExtras
	stack     *sentry.Stacktrace
	registers map[string]string
}

// canonicalize marshals ev with sentry-go's own marshalling and turns the
// result into the canonical form of Sentry's event schema
// (Relay's event.schema.json, embedded in internal/sentryschema). This is the
// only place that edits event JSON by hand. It:
//
//   - wraps "exception", "threads" and "breadcrumbs", which sentry-go
//     writes as bare lists, as {"values": [...]};
//   - writes thread ids as integers: sentry-go's Thread.ID is a string but
//     Exception.ThreadID a number, and Sentry links the crashed thread to the
//     exception by comparing the two;
//   - adds mechanism.synthetic and mechanism.meta.signal / .mach_exception;
//   - adds stacktrace.registers;
//   - drops the empty "user" object sentry-go always writes (a struct
//     cannot be omitempty).
//
// Numbers are decoded as json.Number so that nothing (addresses, ids) passes
// through float64.
func canonicalize(ev *sentry.Event, x *extras) ([]byte, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("sentryevent: encoding event: %w", err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sentryevent: decoding sentry-go's event JSON: %w", err)
	}

	if list, ok := doc["exception"].([]any); ok {
		for i := range ev.Exception {
			if i >= len(list) {
				break
			}
			obj, _ := list[i].(map[string]any)
			if obj == nil {
				continue
			}
			if m, _ := obj["mechanism"].(map[string]any); m != nil && ev.Exception[i].Mechanism == x.mechanism {
				patchMechanism(m, x.mech)
			}
			if st, _ := obj["stacktrace"].(map[string]any); st != nil && ev.Exception[i].Stacktrace == x.stack && len(x.registers) > 0 {
				st["registers"] = x.registers
			}
		}
		doc["exception"] = map[string]any{"values": list}
	}

	if list, ok := doc["threads"].([]any); ok {
		for _, t := range list {
			obj, _ := t.(map[string]any)
			if id, ok := obj["id"].(string); ok {
				if n, err := strconv.ParseUint(id, 10, 64); err == nil {
					obj["id"] = json.Number(strconv.FormatUint(n, 10))
				}
			}
		}
		doc["threads"] = map[string]any{"values": list}
	}

	if list, ok := doc["breadcrumbs"].([]any); ok {
		doc["breadcrumbs"] = map[string]any{"values": list}
	}

	if u, ok := doc["user"].(map[string]any); ok && len(u) == 0 {
		delete(doc, "user")
	}

	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sentryevent: encoding event: %w", err)
	}
	return out, nil
}

// patchMechanism adds the mechanism fields sentry-go lacks, in the shapes of
// the schema's PosixSignal and MachException.
func patchMechanism(m map[string]any, x mechanismExtras) {
	if x.Synthetic {
		m["synthetic"] = true
	}
	meta := map[string]any{}
	if s := x.Signal; s != nil {
		sig := map[string]any{"code": s.Code}
		if s.Number != 0 {
			sig["number"] = s.Number
		}
		if s.Name != "" {
			sig["name"] = s.Name
		}
		if s.CodeName != "" {
			sig["code_name"] = s.CodeName
		}
		meta["signal"] = sig
	}
	if mx := x.Mach; mx != nil {
		mach := map[string]any{
			"exception": mx.Exception,
			// The schema types code as uint64; kern_return_t codes are
			// positive, and a negative one keeps its bits.
			"code":    uint64(mx.Code),
			"subcode": mx.Subcode,
		}
		if mx.Name != "" {
			mach["name"] = mx.Name
		}
		meta["mach_exception"] = mach
	}
	if len(meta) > 0 {
		m["meta"] = meta
	}
}
