package sentryevent

import (
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBeforeSendSeesRealEvent(t *testing.T) {
	var seen *sentry.Event
	opts := Options{BeforeSend: func(e *sentry.Event) *sentry.Event {
		seen = e
		return e
	}}
	_, err := Build(nativeLinuxReport(), opts)
	require.NoError(t, err)
	require.NotNil(t, seen)

	assert.Equal(t, sentry.EventID(testEventID), seen.EventID)
	assert.Equal(t, sentry.LevelFatal, seen.Level)
	require.Len(t, seen.Exception, 1)
	assert.Equal(t, "SIGSEGV", seen.Exception[0].Type)
	assert.Equal(t, MechanismSignalHandler, seen.Exception[0].Mechanism.Type)
	require.Len(t, seen.Threads, 1)
	assert.Equal(t, "1", seen.Threads[0].ID)
	require.NotNil(t, seen.DebugMeta)
	assert.Len(t, seen.DebugMeta.Images, 2)
	require.Len(t, seen.Attachments, 1)
	assert.Equal(t, CrashOutputFilename, seen.Attachments[0].Filename)
	assert.Equal(t, nativeLinuxReport().CrashOutput, string(seen.Attachments[0].Payload))
}

func TestBeforeSendModifies(t *testing.T) {
	opts := Options{BeforeSend: func(e *sentry.Event) *sentry.Event {
		e.Tags["added"] = "yes"
		e.Exception[0].Value = "scrubbed"
		e.ServerName = ""
		e.Attachments = nil // e.g. the crash output may hold secrets
		return e
	}}
	b, err := Build(nativeLinuxReport(), opts)
	require.NoError(t, err)
	requireValidEvent(t, b)
	ev := decodeEvent(t, b)
	assert.Equal(t, map[string]string{"team": "core", "added": "yes"}, ev.Tags)
	assert.Equal(t, "scrubbed", ev.Exception.Values[0].Value)
	assert.Empty(t, ev.ServerName)
	// The extras follow the mechanism and stack trace objects.
	exc := ev.Exception.Values[0]
	assert.Equal(t, ptr(true), exc.Mechanism.Synthetic)
	assert.Equal(t, "SIGSEGV", exc.Mechanism.Meta.Signal.Name)
	assert.Len(t, exc.Stacktrace.Registers, 3)

	env, err := Envelope(nativeLinuxReport(), opts)
	require.NoError(t, err)
	items := parseEnvelope(t, env).Items
	require.Len(t, items, 1, "the attachment BeforeSend removed is not sent")
	assert.Equal(t, "event", items[0].Header["type"])
}

func TestBeforeSendExtrasFollowReorderedException(t *testing.T) {
	opts := Options{BeforeSend: func(e *sentry.Event) *sentry.Event {
		// Put a user exception in front: the crash's extras must stay with
		// the crash's mechanism and stack, now at index 1.
		e.Exception = append([]sentry.Exception{{Type: "note", Value: "added", Mechanism: &sentry.Mechanism{Type: "user"}, Stacktrace: &sentry.Stacktrace{Frames: []sentry.Frame{{Function: "f"}}}}}, e.Exception...)
		return e
	}}
	b, err := Build(nativeLinuxReport(), opts)
	require.NoError(t, err)
	requireValidEvent(t, b)
	ev := decodeEvent(t, b)
	require.Len(t, ev.Exception.Values, 2)
	assert.Nil(t, ev.Exception.Values[0].Mechanism.Meta)
	assert.Nil(t, ev.Exception.Values[0].Mechanism.Synthetic)
	assert.Nil(t, ev.Exception.Values[0].Stacktrace.Registers)
	assert.Equal(t, "SIGSEGV", ev.Exception.Values[1].Mechanism.Meta.Signal.Name)
	assert.Len(t, ev.Exception.Values[1].Stacktrace.Registers, 3)
}

func TestBeforeSendDrops(t *testing.T) {
	opts := Options{BeforeSend: func(*sentry.Event) *sentry.Event { return nil }}
	_, err := Build(panicReport(), opts)
	assert.ErrorIs(t, err, ErrDropped)
	_, err = Envelope(panicReport(), opts)
	assert.ErrorIs(t, err, ErrDropped)
}

func TestBeforeSendPanicIsRecovered(t *testing.T) {
	opts := Options{BeforeSend: func(*sentry.Event) *sentry.Event { panic("user bug") }}
	_, err := Envelope(panicReport(), opts)
	assert.ErrorIs(t, err, ErrBeforeSendPanicked)
	assert.ErrorContains(t, err, "user bug")
}
