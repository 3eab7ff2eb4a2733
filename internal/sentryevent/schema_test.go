package sentryevent

import (
	"bytes"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// schemaFile is Sentry's published event schema (getsentry/sentry-data-schemas
// relay/event.schema.json, draft-07), copied from /work/shared/data so that
// the tests do not depend on anything outside the module.
const schemaFile = "testdata/sentry-event.schema.json"

// strictDefinitions are validated on their own as well: the event schema
// lets any context and any debug image through a permissive last
// alternative ({"type": "object", "additionalProperties": true}), so the
// event schema alone cannot catch a misspelt key in them.
var strictDefinitions = []string{"NativeDebugImage", "OsContext", "RuntimeContext", "DeviceContext"}

var schemas struct {
	once  sync.Once
	err   error
	event *jsonschema.Schema
	defs  map[string]*jsonschema.Schema
}

// uuidFormat accepts what Relay's EventId and DebugId accept: a UUID with or
// without hyphens. The library's draft-07 "uuid" check (format assertions are
// on for draft-07) insists on hyphens, but Sentry's event_id is documented as
// 32 hex digits without them.
var uuidFormat = &jsonschema.Format{Name: "uuid", Validate: func(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 || (len(s) != 32 && len(s) != 36) {
		return errors.New("not a UUID")
	}
	return nil
}}

// compiledSchemas compiles the schema once for the whole test binary.
func compiledSchemas(t *testing.T) (*jsonschema.Schema, map[string]*jsonschema.Schema) {
	t.Helper()
	schemas.once.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		c.RegisterFormat(uuidFormat)
		if schemas.event, schemas.err = c.Compile(schemaFile); schemas.err != nil {
			return
		}
		schemas.defs = map[string]*jsonschema.Schema{}
		for _, d := range strictDefinitions {
			var s *jsonschema.Schema
			if s, schemas.err = c.Compile(schemaFile + "#/definitions/" + d); schemas.err != nil {
				return
			}
			schemas.defs[d] = s
		}
	})
	require.NoError(t, schemas.err, "compiling %s", schemaFile)
	return schemas.event, schemas.defs
}

// requireValidEvent validates event JSON against the event schema, and the
// parts the event schema is lax about against their own definitions.
func requireValidEvent(t *testing.T, event []byte) {
	t.Helper()
	sch, defs := compiledSchemas(t)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst), "event does not validate:\n%s", event)

	doc := inst.(map[string]any)
	if dm, ok := doc["debug_meta"].(map[string]any); ok {
		imgs, _ := dm["images"].([]any)
		for _, img := range imgs {
			// "type" is the tag Relay picks the image struct by (serde's
			// internally tagged enum), so the definition itself lacks it.
			m := maps.Clone(img.(map[string]any))
			require.Contains(t, []any{"elf", "macho"}, m["type"])
			delete(m, "type")
			require.NoError(t, defs["NativeDebugImage"].Validate(m), "debug image %v", img)
		}
	}
	ctx, _ := doc["contexts"].(map[string]any)
	for key, def := range map[string]string{"os": "OsContext", "runtime": "RuntimeContext", "device": "DeviceContext"} {
		if c, ok := ctx[key]; ok {
			require.NoError(t, defs[def].Validate(c), "context %s", key)
		}
	}
}

func TestSchemaCatchesNonCanonicalForm(t *testing.T) {
	// Guard against a validator that accepts everything: sentry-go's bare
	// exception list must fail, and so must an unknown mechanism key.
	sch, _ := compiledSchemas(t)
	for _, bad := range []string{
		`{"event_id":"0123456789abcdef0123456789abcdef","exception":[{"type":"x"}]}`,
		`{"event_id":"0123456789abcdef0123456789abcdef","exception":{"values":[{"type":"x","mechanism":{"type":"a","signal":{}}}]}}`,
		`{"event_id":"not-a-uuid"}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		require.NoError(t, err)
		require.Error(t, sch.Validate(inst), bad)
	}
}
