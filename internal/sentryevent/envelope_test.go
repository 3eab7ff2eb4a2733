package sentryevent

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type envItem struct {
	header  map[string]any
	payload []byte
}

type parsedEnvelope struct {
	header map[string]any
	items  []envItem
}

// parseEnvelope parses envelope framing strictly: every item must carry a
// length, the payload must be exactly that long and be followed by "\n".
func parseEnvelope(t *testing.T, b []byte) parsedEnvelope {
	t.Helper()
	var env parsedEnvelope
	line, rest, ok := bytes.Cut(b, []byte("\n"))
	require.True(t, ok, "envelope header line")
	require.NoError(t, json.Unmarshal(line, &env.header))
	for len(rest) > 0 {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		require.True(t, ok, "item header line")
		var h map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&h))
		ln, ok := h["length"].(json.Number)
		require.True(t, ok, "item %v has a length", h)
		n, err := strconv.Atoi(ln.String())
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(rest), n+1, "payload of %d bytes and its newline", n)
		require.Equal(t, byte('\n'), rest[n], "payload ends exactly at length")
		env.items = append(env.items, envItem{header: h, payload: rest[:n]})
		rest = rest[n+1:]
	}
	return env
}

func TestEnvelope(t *testing.T) {
	sent := time.Date(2025, 11, 4, 9, 0, 0, 500, time.FixedZone("X", 3600))
	r := nativeLinuxReport()
	opts := Options{Dsn: "https://key@o1.ingest.example/42", Now: func() time.Time { return sent }}
	b, err := Envelope(r, opts)
	require.NoError(t, err)

	env := parseEnvelope(t, b)
	assert.Equal(t, map[string]any{
		"event_id": testEventID,
		"sent_at":  "2025-11-04T08:00:00.0000005Z",
		"dsn":      "https://key@o1.ingest.example/42",
		"sdk":      map[string]any{"name": SDKName, "version": SDKVersion},
	}, env.header)

	require.Len(t, env.items, 2)
	ev := env.items[0]
	assert.Equal(t, "event", ev.header["type"])
	assert.Equal(t, json.Number(strconv.Itoa(len(ev.payload))), ev.header["length"])
	requireValidEvent(t, ev.payload)
	built, err := Build(r, opts)
	require.NoError(t, err)
	assert.Equal(t, built, ev.payload, "the envelope carries exactly what Build returns")

	att := env.items[1]
	assert.Equal(t, map[string]any{
		"type":            "attachment",
		"length":          json.Number(strconv.Itoa(len(r.CrashOutput))),
		"filename":        "go-crash-output.txt",
		"content_type":    "text/plain",
		"attachment_type": "event.attachment",
	}, att.header)
	assert.Equal(t, r.CrashOutput, string(att.payload))
}

func TestEnvelopeWithoutCrashOutput(t *testing.T) {
	r := goFaultReport()
	require.Empty(t, r.CrashOutput)
	b, err := Envelope(r, Options{})
	require.NoError(t, err)
	env := parseEnvelope(t, b)
	assert.NotContains(t, env.header, "dsn", "no DSN given, none written")
	require.Len(t, env.items, 1)
	assert.Equal(t, "event", env.items[0].header["type"])
}
