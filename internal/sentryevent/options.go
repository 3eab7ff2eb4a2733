package sentryevent

import (
	"errors"
	"time"

	"github.com/getsentry/sentry-go"
)

// SDKName is the SDK name crashguard reports in events and envelopes. It names
// sentry-go as the base so that Sentry shows the events as Go events.
const SDKName = "sentry.go.crashguard"

// SDKVersion is the version of crashguard reported as the SDK version.
const SDKVersion = "0.1.0"

// Attachment fields of the raw Go crash output sent with every event that has one.
const (
	CrashOutputFilename    = "go-crash-output.txt"
	CrashOutputContentType = "text/plain"
)

// Errors returned by Build and Envelope.
var (
	// ErrDropped is returned when Options.BeforeSend returned nil: the user
	// does not want this report sent, so the caller should delete it.
	ErrDropped = errors.New("sentryevent: event dropped by BeforeSend")
	// ErrInvalidReport is returned for a report that cannot become a valid
	// event (nil report, malformed event id). Retrying will not help.
	ErrInvalidReport = errors.New("sentryevent: invalid report")
	// ErrBeforeSendPanicked is returned when Options.BeforeSend panicked. The
	// panic is recovered: a user callback must not crash the program that
	// is merely delivering an old report.
	ErrBeforeSendPanicked = errors.New("sentryevent: BeforeSend panicked")
)

// Options shape the event and the envelope.
type Options struct {
	// Dsn is written into the envelope header ("dsn"), which makes the
	// envelope self-describing. Empty leaves it out. It is not parsed here.
	Dsn string
	// SDKName and SDKVersion identify the SDK (event "sdk" and envelope
	// header). Empty means SDKName and SDKVersion.
	SDKName    string
	SDKVersion string
	// BeforeSend, when not nil, is called with the event before it is
	// encoded, as sentry.ClientOptions.BeforeSend would be. It may modify the
	// event (including Event.Attachments, which hold the crash output) or
	// return nil to drop it (ErrDropped). Fields sentry-go has no type for
	// (mechanism meta/synthetic, stack registers) are not visible to it; they
	// are added to the mechanism and stack trace objects built here, wherever
	// BeforeSend moves them, and are left out if it replaces those objects.
	// BeforeSend sees every goroutine and the whole message: the event is
	// fitted to MaxEventSize after it.
	BeforeSend func(*sentry.Event) *sentry.Event
	// Now is the clock for the envelope's sent_at. Nil means time.Now.
	Now func() time.Time
	// MaxEventSize is the size budget of the event item in bytes: 0 means
	// DefaultEventBudget; it is clamped to [MinEventBudget, MaxEventSize].
	MaxEventSize int
	// MaxAttachmentSize caps each attachment in bytes: 0 (or more than
	// DefaultMaxAttachmentSize) means DefaultMaxAttachmentSize.
	MaxAttachmentSize int
	// OmitCrashOutput leaves the raw crash output attachment out of the
	// envelope (the event still carries everything parsed from it).
	OmitCrashOutput bool
	// Context holds values the sender adds to the "crashguard" context,
	// before BeforeSend sees the event: the crash-loop counts of
	// internal/delivery ("folded_crashes", "dropped_reports").
	Context map[string]any
}

func (o Options) sdkName() string {
	if o.SDKName != "" {
		return o.SDKName
	}
	return SDKName
}

func (o Options) sdkVersion() string {
	if o.SDKVersion != "" {
		return o.SDKVersion
	}
	return SDKVersion
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
