package sentrytest

import "fmt"

// Limits are the size limits of Relay (getsentry/relay, relay-config
// Limits) the receiver can apply to the decoded envelope. Relay refuses the
// whole envelope with 413 when one is exceeded. A zero field is no limit.
type Limits struct {
	// MaxEventSize limits the event item's payload (max_event_size).
	MaxEventSize int
	// MaxAttachmentSize limits each attachment item (max_attachment_size).
	MaxAttachmentSize int
	// MaxAttachmentsSize limits all attachments together (max_attachments_size).
	MaxAttachmentsSize int
	// MaxEnvelopeSize limits the decoded envelope (max_envelope_size).
	MaxEnvelopeSize int
}

// RelayLimits are Relay's defaults (relay-config Limits::default): 1 MiB
// for the event item, 100 MiB for an attachment, for all attachments and
// for the envelope.
var RelayLimits = Limits{
	MaxEventSize:       1 << 20,
	MaxAttachmentSize:  100 << 20,
	MaxAttachmentsSize: 100 << 20,
	MaxEnvelopeSize:    100 << 20,
}

// SetLimits makes the receiver answer 413, as Relay does, to envelopes over
// l (Limits{} turns the checks off, the default).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// exceeded says which limit rec exceeds, "" when none.
func (l Limits) exceeded(rec Received) string {
	if l.MaxEnvelopeSize > 0 && rec.DecodedSize > l.MaxEnvelopeSize {
		return fmt.Sprintf("envelope of %d bytes over max_envelope_size %d", rec.DecodedSize, l.MaxEnvelopeSize)
	}
	if l.MaxEventSize > 0 && len(rec.Raw) > l.MaxEventSize {
		return fmt.Sprintf("event item of %d bytes over max_event_size %d", len(rec.Raw), l.MaxEventSize)
	}
	total := 0
	for _, a := range rec.Attachments {
		total += len(a.Data)
		if l.MaxAttachmentSize > 0 && len(a.Data) > l.MaxAttachmentSize {
			return fmt.Sprintf("attachment %q of %d bytes over max_attachment_size %d", a.Filename, len(a.Data), l.MaxAttachmentSize)
		}
	}
	if l.MaxAttachmentsSize > 0 && total > l.MaxAttachmentsSize {
		return fmt.Sprintf("attachments of %d bytes over max_attachments_size %d", total, l.MaxAttachmentsSize)
	}
	return ""
}
