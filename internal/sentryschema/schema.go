// Package sentryschema validates Sentry events against Sentry's own published
// event schema (getsentry/sentry-data-schemas relay/event.schema.json,
// draft-07, commit 6d2c435, July 2024; embedded). Every event crashguard
// builds is checked with it in tests, and the test receiver checks every
// event it receives.
package sentryschema

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed sentry-event.schema.json
var schemaJSON []byte

const schemaURL = "mem://sentry-event.schema.json"

// strictDefinitions are validated on their own as well: the event schema
// lets any context and any debug image through a permissive last
// alternative ({"type": "object", "additionalProperties": true}), so the
// event schema alone cannot catch a misspelt key in them.
var strictDefinitions = []string{"NativeDebugImage", "OsContext", "RuntimeContext", "DeviceContext"}

var compiled struct {
	once  sync.Once
	err   error
	event *jsonschema.Schema
	defs  map[string]*jsonschema.Schema
}

// IsUUID reports whether s is what Relay's EventId and DebugId accept: a
// UUID with or without hyphens (32 hex digits, or 36 characters hyphenated),
// in any case.
func IsUUID(s string) bool {
	if len(s) != 32 && len(s) != 36 {
		return false
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	return err == nil && len(b) == 16
}

// uuidFormat checks "format": "uuid" with IsUUID. The library's draft-07
// "uuid" check insists on hyphens, but Sentry's event_id is documented as 32
// hex digits without them.
var uuidFormat = &jsonschema.Format{Name: "uuid", Validate: func(v any) error {
	if s, ok := v.(string); ok && !IsUUID(s) {
		return errors.New("not a UUID")
	}
	return nil
}}

func compile() error {
	compiled.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			compiled.err = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		c.RegisterFormat(uuidFormat)
		if compiled.err = c.AddResource(schemaURL, doc); compiled.err != nil {
			return
		}
		if compiled.event, compiled.err = c.Compile(schemaURL); compiled.err != nil {
			return
		}
		compiled.defs = map[string]*jsonschema.Schema{}
		for _, d := range strictDefinitions {
			var s *jsonschema.Schema
			if s, compiled.err = c.Compile(schemaURL + "#/definitions/" + d); compiled.err != nil {
				return
			}
			compiled.defs[d] = s
		}
	})
	return compiled.err
}

// ErrInvalid is matched by every validation failure.
var ErrInvalid = errors.New("sentryschema: event does not validate")

// Validate checks event JSON against the event schema, and the parts the
// event schema is lax about (debug images, os/runtime/device contexts)
// against their own definitions.
func Validate(event []byte) error {
	if err := compile(); err != nil {
		return fmt.Errorf("sentryschema: compile: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("%w: not JSON: %v", ErrInvalid, err)
	}
	if err := compiled.event.Validate(inst); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	doc, ok := inst.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: not an object", ErrInvalid)
	}
	if dm, ok := doc["debug_meta"].(map[string]any); ok {
		imgs, _ := dm["images"].([]any)
		for i, img := range imgs {
			m, ok := img.(map[string]any)
			if !ok {
				return fmt.Errorf("%w: debug image %d is not an object", ErrInvalid, i)
			}
			// "type" is the tag Relay picks the image struct by (serde's
			// internally tagged enum), so the definition itself lacks it.
			if m["type"] != "elf" && m["type"] != "macho" {
				return fmt.Errorf("%w: debug image %d has type %v", ErrInvalid, i, m["type"])
			}
			m = maps.Clone(m)
			delete(m, "type")
			if err := compiled.defs["NativeDebugImage"].Validate(m); err != nil {
				return fmt.Errorf("%w: debug image %d: %v", ErrInvalid, i, err)
			}
		}
	}
	ctx, _ := doc["contexts"].(map[string]any)
	for key, def := range map[string]string{"os": "OsContext", "runtime": "RuntimeContext", "device": "DeviceContext"} {
		if c, ok := ctx[key]; ok {
			if err := compiled.defs[def].Validate(c); err != nil {
				return fmt.Errorf("%w: context %s: %v", ErrInvalid, key, err)
			}
		}
	}
	return nil
}
