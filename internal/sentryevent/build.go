package sentryevent

import (
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Build returns the JSON of the Sentry event for r, after Options.BeforeSend,
// fitted to the size budget (see Envelope). It returns ErrDropped when
// BeforeSend dropped the event.
func Build(r *report.Report, opts Options) ([]byte, error) {
	ev, x, err := prepare(r, opts)
	if err != nil {
		return nil, err
	}
	body, _, err := fitEvent(ev, x, r, opts)
	return body, err
}

// Envelope returns the envelope that carries the event for r (after
// Options.BeforeSend) and its attachments: the raw Go crash output unless
// BeforeSend removed it. It returns ErrDropped when BeforeSend dropped the
// event.
//
// The event item is fitted into Options.MaxEventSize (DefaultEventBudget,
// under Relay's 1 MiB) by folding and leaving out goroutines other than the
// crashed one and cutting very long values, and each attachment is capped
// (see fitEvent and the size constants). It returns ErrEventTooLarge when
// even the smallest form is over MaxEventSize.
func Envelope(r *report.Report, opts Options) ([]byte, error) {
	env, _, err := EnvelopeFit(r, opts)
	return env, err
}

// EnvelopeFit is Envelope, also saying what was done to fit the budget.
func EnvelopeFit(r *report.Report, opts Options) ([]byte, Fit, error) {
	ev, x, err := prepare(r, opts)
	if err != nil {
		return nil, Fit{}, err
	}
	body, fit, err := fitEvent(ev, x, r, opts)
	if err != nil {
		return nil, fit, err
	}
	env, err := encodeEnvelope(ev, body, opts)
	return env, fit, err
}

// prepare builds the event and runs BeforeSend on it.
func prepare(r *report.Report, opts Options) (*sentry.Event, *extras, error) {
	ev, x, err := newEvent(r, opts)
	if err != nil {
		return nil, nil, err
	}
	if opts.BeforeSend == nil {
		return ev, x, nil
	}
	ev, err = beforeSend(opts.BeforeSend, ev)
	if err != nil {
		return nil, nil, err
	}
	return ev, x, nil
}

func beforeSend(f func(*sentry.Event) *sentry.Event, ev *sentry.Event) (out *sentry.Event, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrBeforeSendPanicked, p)
		}
	}()
	if out = f(ev); out == nil {
		return nil, ErrDropped
	}
	return out, nil
}

// newEvent builds the event for r with sentry-go's types.
func newEvent(r *report.Report, opts Options) (*sentry.Event, *extras, error) {
	if r == nil {
		return nil, nil, fmt.Errorf("%w: nil report", ErrInvalidReport)
	}
	id, err := normalizeEventID(r.EventID)
	if err != nil {
		return nil, nil, err
	}
	p := &r.Process

	ev := sentry.NewEvent()
	ev.EventID = sentry.EventID(id)
	if !p.CrashTime.IsZero() {
		ev.Timestamp = p.CrashTime.UTC()
	}
	ev.Level = sentry.LevelFatal
	ev.Platform = "go"
	ev.Sdk = sentry.SdkInfo{
		Name:    opts.sdkName(),
		Version: opts.sdkVersion(),
		Packages: []sentry.SdkPackage{
			{Name: "go:github.com/crashguard/crashguard-go", Version: opts.sdkVersion()},
			{Name: "go:github.com/getsentry/sentry-go", Version: sentry.SDKVersion},
		},
	}
	ev.Release = p.Release
	if ev.Release == "" && p.Build != nil {
		// sentry-go's last-resort default release is the VCS revision of
		// the build; the crashing process's build info is in the report.
		ev.Release = p.Build.VCSRevision
	}
	ev.Environment = p.Environment
	ev.Dist = p.Dist
	ev.ServerName = p.ServerName
	if ev.ServerName == "" {
		ev.ServerName = p.Hostname // sentry-go's default server name
	}
	maps.Copy(ev.Tags, p.Tags)
	maps.Copy(ev.Modules, modules(r))
	ev.Contexts = contexts(r)
	maps.Copy(ev.Contexts["crashguard"], opts.Context)
	applyScope(ev, r)
	applyLabels(ev, r)

	exc, mx := newException(r)
	ev.Exception = chainExceptions(r, exc)
	ev.Threads = threads(r)
	if images := debugImages(r); len(images) > 0 {
		ev.DebugMeta = &sentry.DebugMeta{Images: images}
	}
	if r.CrashOutput != "" && !opts.OmitCrashOutput {
		ev.Attachments = []*sentry.Attachment{{
			Filename:    CrashOutputFilename,
			ContentType: CrashOutputContentType,
			Payload:     []byte(r.CrashOutput),
		}}
	}

	x := &extras{
		mechanism: exc.Mechanism,
		mech:      mx,
		stack:     exc.Stacktrace,
		registers: registers(r.Native),
	}
	return ev, x, nil
}

// normalizeEventID accepts 32 hex digits or a hyphenated UUID and returns
// the 32 lowercase hex digits Sentry uses. Anything else would be refused by
// Sentry with a 400, so it is refused here.
func normalizeEventID(id string) (string, error) {
	s := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 16 ||
		(len(id) != 32 && len(id) != 36) {
		return "", fmt.Errorf("%w: event id %q is not 32 hex digits", ErrInvalidReport, id)
	}
	return s, nil
}
