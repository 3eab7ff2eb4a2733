package sentrytest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvelopeValid(t *testing.T) {
	for _, tt := range []struct {
		name     string
		body     string
		types    []string
		payloads []string
	}{
		{"header only", `{"event_id":"x"}`, nil, nil},
		{"header only with newline", "{}\n", nil, nil},
		{"length-delimited, payload with newlines", "{}\n{\"type\":\"attachment\",\"length\":5,\"filename\":\"a\"}\na\nb\nc\n", []string{"attachment"}, []string{"a\nb\nc"}},
		{"newline-delimited", "{}\n{\"type\":\"event\"}\n{\"a\":1}\n", []string{"event"}, []string{`{"a":1}`}},
		{"last payload at EOF", "{}\n{\"type\":\"event\",\"length\":7}\n{\"a\":1}", []string{"event"}, []string{`{"a":1}`}},
		{"last implicit payload at EOF", "{}\n{\"type\":\"event\"}\n{\"a\":1}", []string{"event"}, []string{`{"a":1}`}},
		{"empty payload", "{}\n{\"type\":\"x\",\"length\":0}\n\n{\"type\":\"y\"}\n\n", []string{"x", "y"}, []string{"", ""}},
		{"two items", "{}\n{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"attachment\",\"length\":3,\"filename\":\"f\"}\nabc\n", []string{"event", "attachment"}, []string{"{}", "abc"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.body))
			require.NoError(t, err)
			var types, payloads []string
			for _, it := range env.Items {
				types = append(types, it.Type)
				payloads = append(payloads, string(it.Payload))
			}
			assert.Equal(t, tt.types, types)
			assert.Equal(t, tt.payloads, payloads)
		})
	}
}

func TestParseEnvelopeLengthIsNumber(t *testing.T) {
	env, err := ParseEnvelope([]byte("{\"n\":12345678901234567890}\n{\"type\":\"x\",\"length\":1}\na\n"))
	require.NoError(t, err)
	assert.Equal(t, json.Number("12345678901234567890"), env.Header["n"], "numbers are not squeezed through float64")
	assert.Equal(t, json.Number("1"), env.Items[0].Header["length"])
}

func TestParseEnvelopeMalformed(t *testing.T) {
	for _, tt := range []struct{ name, body string }{
		{"empty", ""},
		{"header not JSON", "hello\n"},
		{"header not an object", "[1]\n"},
		{"header null", "null\n"},
		{"data after header object", "{} {}\n"},
		{"blank line as item header", "{}\n\n"},
		{"item without type", "{}\n{\"length\":1}\na\n"},
		{"item with empty type", "{}\n{\"type\":\"\"}\na\n"},
		{"item header at EOF", "{}\n{\"type\":\"event\"}"},
		{"length overruns body", "{}\n{\"type\":\"x\",\"length\":10}\nabc\n"},
		{"payload longer than length", "{}\n{\"type\":\"x\",\"length\":2}\nabc\n"},
		{"negative length", "{}\n{\"type\":\"x\",\"length\":-1}\nabc\n"},
		{"fractional length", "{}\n{\"type\":\"x\",\"length\":1.5}\nabc\n"},
		{"string length", "{}\n{\"type\":\"x\",\"length\":\"3\"}\nabc\n"},
		{"blank line between items", "{}\n{\"type\":\"x\",\"length\":1}\na\n\n{\"type\":\"y\",\"length\":1}\nb\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(tt.body))
			assert.ErrorIs(t, err, ErrMalformedEnvelope)
		})
	}
}
