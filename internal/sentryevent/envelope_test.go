package sentryevent

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// parseEnvelope parses envelope framing strictly with the test receiver's
// parser, and more strictly still: every item must carry a length (so its
// payload is exactly that long) and the envelope must end with "\n".
func parseEnvelope(t *testing.T, b []byte) *sentrytest.Envelope {
	t.Helper()
	env, err := sentrytest.ParseEnvelope(b)
	require.NoError(t, err)
	for _, it := range env.Items {
		require.Equal(t, json.Number(strconv.Itoa(len(it.Payload))), it.Header["length"], "item %v has its length", it.Header)
	}
	require.True(t, bytes.HasSuffix(b, []byte("\n")), "the last payload is followed by a newline")
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
	}, env.Header)

	require.Len(t, env.Items, 2)
	ev := env.Items[0]
	assert.Equal(t, "event", ev.Header["type"])
	assert.Equal(t, json.Number(strconv.Itoa(len(ev.Payload))), ev.Header["length"])
	requireValidEvent(t, ev.Payload)
	built, err := Build(r, opts)
	require.NoError(t, err)
	assert.Equal(t, built, ev.Payload, "the envelope carries exactly what Build returns")

	att := env.Items[1]
	assert.Equal(t, map[string]any{
		"type":            "attachment",
		"length":          json.Number(strconv.Itoa(len(r.CrashOutput))),
		"filename":        "go-crash-output.txt",
		"content_type":    "text/plain",
		"attachment_type": "event.attachment",
	}, att.Header)
	assert.Equal(t, r.CrashOutput, string(att.Payload))
}

func TestEnvelopeWithoutCrashOutput(t *testing.T) {
	r := goFaultReport()
	require.Empty(t, r.CrashOutput)
	b, err := Envelope(r, Options{})
	require.NoError(t, err)
	env := parseEnvelope(t, b)
	assert.NotContains(t, env.Header, "dsn", "no DSN given, none written")
	require.Len(t, env.Items, 1)
	assert.Equal(t, "event", env.Items[0].Header["type"])
}
