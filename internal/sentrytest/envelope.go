package sentrytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrMalformedEnvelope is wrapped by every ParseEnvelope error.
var ErrMalformedEnvelope = errors.New("sentrytest: malformed envelope")

// Envelope is a parsed Sentry envelope.
type Envelope struct {
	// Header is the envelope header (event_id, sent_at, dsn, sdk, ...),
	// numbers as json.Number.
	Header map[string]any
	Items  []Item
}

// Item is one envelope item.
type Item struct {
	// Header is the item header (type, length, filename, ...), numbers as
	// json.Number.
	Header map[string]any
	// Type is Header["type"].
	Type    string
	Payload []byte
}

// ParseEnvelope parses envelope framing strictly, as specified at
// develop.sentry.dev/sdk/data-model/envelopes:
//
//	Envelope = Header "\n" { Item }
//	Item     = ItemHeader "\n" Payload ( "\n" | EOF )
//
// The envelope header and each item header must be one JSON object on one
// line; each item header must have a non-empty string "type". When an item
// header has "length", the payload is exactly that many bytes and must be
// followed by "\n" or the end of the body; without it the payload runs to the
// next "\n" (or the end). Blank lines, trailing data after a header object,
// or a length that overruns the body are errors.
func ParseEnvelope(b []byte) (*Envelope, error) {
	line, rest, found := bytes.Cut(b, []byte("\n"))
	h, err := decodeObject(line)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope header: %w", ErrMalformedEnvelope, err)
	}
	env := &Envelope{Header: h}
	if !found {
		return env, nil
	}
	for n := 0; len(rest) > 0; n++ {
		var item Item
		line, rest, found = bytes.Cut(rest, []byte("\n"))
		if item.Header, err = decodeObject(line); err != nil {
			return nil, fmt.Errorf("%w: item %d header: %w", ErrMalformedEnvelope, n, err)
		}
		if !found {
			return nil, fmt.Errorf("%w: item %d: header not followed by a newline", ErrMalformedEnvelope, n)
		}
		item.Type, _ = item.Header["type"].(string)
		if item.Type == "" {
			return nil, fmt.Errorf("%w: item %d: no type", ErrMalformedEnvelope, n)
		}
		if l, ok := item.Header["length"]; ok {
			num, _ := l.(json.Number)
			length, err := strconv.Atoi(num.String())
			if err != nil || length < 0 {
				return nil, fmt.Errorf("%w: item %d: length %v is not a non-negative integer", ErrMalformedEnvelope, n, l)
			}
			if length > len(rest) {
				return nil, fmt.Errorf("%w: item %d: length %d but only %d bytes left", ErrMalformedEnvelope, n, length, len(rest))
			}
			item.Payload, rest = rest[:length], rest[length:]
			if len(rest) > 0 {
				if rest[0] != '\n' {
					return nil, fmt.Errorf("%w: item %d: payload of length %d not followed by a newline", ErrMalformedEnvelope, n, length)
				}
				rest = rest[1:]
			}
		} else {
			item.Payload, rest, _ = bytes.Cut(rest, []byte("\n"))
		}
		env.Items = append(env.Items, item)
	}
	return env, nil
}

// decodeObject decodes exactly one JSON object, numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty line")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}
