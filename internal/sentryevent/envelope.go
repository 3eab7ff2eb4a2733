package sentryevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/getsentry/sentry-go"
)

// attachmentTypeEvent is the attachment_type of a plain event attachment.
const attachmentTypeEvent = "event.attachment"

// envelopeHeader is the first line of the envelope.
type envelopeHeader struct {
	EventID string            `json:"event_id"`
	SentAt  string            `json:"sent_at"`
	Dsn     string            `json:"dsn,omitempty"`
	Sdk     map[string]string `json:"sdk"`
}

// itemHeader is the header line of one envelope item. Length is always
// written: the crash output contains newlines, and an explicit length lets
// the receiver check framing.
type itemHeader struct {
	Type           string `json:"type"`
	Length         int    `json:"length"`
	Filename       string `json:"filename,omitempty"`
	ContentType    string `json:"content_type,omitempty"`
	AttachmentType string `json:"attachment_type,omitempty"`
}

// encodeEnvelope writes the envelope by hand rather than with
// Event.ToEnvelope: that marshals the event in sentry-go's non-canonical form
// and its attachment items have no attachment_type.
//
// Format (develop.sentry.dev/sdk/data-model/envelopes):
//
//	{header}\n{item header}\n{payload}\n{item header}\n{payload}\n
func encodeEnvelope(ev *sentry.Event, event []byte, opts Options) ([]byte, error) {
	var buf bytes.Buffer
	sdk := map[string]string{"name": ev.Sdk.Name, "version": ev.Sdk.Version}
	h := envelopeHeader{
		EventID: string(ev.EventID),
		SentAt:  opts.now().UTC().Format(time.RFC3339Nano),
		Dsn:     opts.Dsn,
		Sdk:     sdk,
	}
	if err := writeLine(&buf, h); err != nil {
		return nil, err
	}
	if err := writeItem(&buf, itemHeader{Type: "event"}, event); err != nil {
		return nil, err
	}
	for _, a := range ev.Attachments {
		if a == nil {
			continue
		}
		ih := itemHeader{Type: "attachment", Filename: a.Filename, ContentType: a.ContentType, AttachmentType: attachmentTypeEvent}
		if err := writeItem(&buf, ih, a.Payload); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func writeItem(buf *bytes.Buffer, h itemHeader, payload []byte) error {
	h.Length = len(payload)
	if err := writeLine(buf, h); err != nil {
		return err
	}
	buf.Write(payload)
	buf.WriteByte('\n')
	return nil
}

// writeLine writes v as one line of JSON. json.Marshal never emits a raw
// newline, so the line cannot break the framing.
func writeLine(buf *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sentryevent: encoding envelope header: %w", err)
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}
