package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/sentryevent"
)

// Limits on reading responses. Sentry's answers are small; a proxy's error
// page may not be.
const (
	// maxBodyRead is how much of a response body is read (and so drained,
	// letting the connection be reused); the rest is dropped with the
	// connection.
	maxBodyRead = 64 << 10
	// maxReasonBody is how much of the body goes into Result.Err.
	maxReasonBody = 1 << 10
)

// DefaultTimeout bounds a Send whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Options configure a Sender. The zero value is usable.
type Options struct {
	// Client sends the requests; nil means a client using
	// http.DefaultTransport (proxy from the environment).
	Client *http.Client
	// SDKName and SDKVersion go into X-Sentry-Auth's sentry_client and the
	// User-Agent; empty means sentryevent.SDKName / SDKVersion.
	SDKName    string
	SDKVersion string
	// Timeout bounds a Send whose context has no deadline; 0 means
	// DefaultTimeout. A context deadline always wins.
	Timeout time.Duration
	// Now is the clock for Result.Received; nil means time.Now.
	Now func() time.Time
	// NoCompression sends envelopes as they are. By default the body is
	// gzip-compressed with Content-Encoding: gzip, which Relay accepts and
	// SDKs are asked to use (develop.sentry.dev/sdk/foundations/transport/
	// compression): crash envelopes shrink 20-70×.
	NoCompression bool
}

// Sender posts envelopes to the project of one DSN. It is safe for
// concurrent use.
type Sender struct {
	client    *http.Client
	url       string
	auth      string
	userAgent string
	timeout   time.Duration
	now       func() time.Time
	gzip      bool
}

// NewSender validates dsn (sentry.NewDsn) and prepares the endpoint
// (…/api/<project>/envelope/) and headers. A DSN error wraps ErrInvalidDSN.
func NewSender(dsn string, opts Options) (*Sender, error) {
	d, err := sentry.NewDsn(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	name, version := opts.SDKName, opts.SDKVersion
	if name == "" {
		name = sentryevent.SDKName
	}
	if version == "" {
		version = sentryevent.SDKVersion
	}
	// As sentry-go's HTTP transport: sentry_secret is deprecated but still
	// passed on when the DSN has one, for old self-hosted Sentry.
	auth := fmt.Sprintf("Sentry sentry_version=7, sentry_key=%s, sentry_client=%s/%s", d.GetPublicKey(), name, version)
	if s := d.GetSecretKey(); s != "" {
		auth += ", sentry_secret=" + s
	}
	s := &Sender{
		client:    opts.Client,
		url:       d.GetAPIURL().String(),
		auth:      auth,
		userAgent: name + "/" + version,
		timeout:   opts.Timeout,
		now:       opts.Now,
		gzip:      !opts.NoCompression,
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// URL returns the envelope endpoint the sender posts to.
func (s *Sender) URL() string { return s.url }

// Send posts one envelope and classifies the answer. It never panics and
// always returns within the context's deadline (or Options.Timeout).
func (s *Sender) Send(ctx context.Context, envelope []byte) Result {
	if len(envelope) == 0 {
		return Result{Outcome: Rejected, Received: s.now(), Err: ErrEmptyEnvelope}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	body := envelope
	if s.gzip {
		body = compress(envelope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		// Only a broken URL or method gets here; NewSender built both.
		return Result{Outcome: Retry, Received: s.now(), Err: fmt.Errorf("%w: %w", ErrNetwork, err), BodySize: len(body)}
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("X-Sentry-Auth", s.auth)
	req.Header.Set("User-Agent", s.userAgent)

	resp, err := s.client.Do(req)
	if err != nil {
		// Includes timeouts and cancellation: errors.Is(err,
		// context.DeadlineExceeded) still holds through *url.Error.
		return Result{Outcome: Retry, Received: s.now(), Err: fmt.Errorf("%w: %w", ErrNetwork, err), BodySize: len(body)}
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	resp.Body.Close()
	r := classify(resp.StatusCode, resp.Header, answer, s.now())
	r.BodySize = len(body)
	return r
}

// compress gzips an envelope. Writing to a bytes.Buffer cannot fail.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/4 + 64)
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// classify turns a response into a Result.
func classify(status int, h http.Header, body []byte, now time.Time) Result {
	r := Result{
		StatusCode: status,
		Received:   now,
		RateLimits: parseRateLimits(h.Get("X-Sentry-Rate-Limits")),
	}
	retryAfter, hasRetryAfter := parseRetryAfter(h.Get("Retry-After"), now)
	switch {
	case status >= 200 && status < 300:
		r.Outcome = Delivered
	case status == http.StatusTooManyRequests:
		r.Outcome = RateLimited
		// X-Sentry-Rate-Limits is the precise answer and wins over
		// Retry-After (develop.sentry.dev/sdk/expected-features/rate-limiting).
		switch {
		case r.LimitedFor(CategoryError) > 0:
			r.RetryAfter = r.LimitedFor(CategoryError)
		case hasRetryAfter:
			r.RetryAfter = retryAfter
		default:
			r.RetryAfter = defaultRateLimit
		}
		r.Err = fmt.Errorf("%w: HTTP %d, retry after %s", ErrRateLimited, status, r.RetryAfter)
	case status == http.StatusRequestTimeout || status >= 500:
		r.Outcome = Retry
		r.RetryAfter = retryAfter // 0 without a usable Retry-After
		r.Err = fmt.Errorf("%w: HTTP %d%s", ErrServer, status, reason(body))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		r.Outcome = Rejected
		r.Err = fmt.Errorf("%w: %w: HTTP %d%s", ErrRejected, ErrUnauthorized, status, reason(body))
	case status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest && namesSize(body):
		r.Outcome = Rejected
		r.Err = fmt.Errorf("%w: %w: HTTP %d%s", ErrRejected, ErrTooLarge, status, reason(body))
	case status >= 400:
		r.Outcome = Rejected
		r.Err = fmt.Errorf("%w: HTTP %d%s", ErrRejected, status, reason(body))
	default:
		r.Outcome = Retry
		r.RetryAfter = retryAfter
		r.Err = fmt.Errorf("%w: HTTP %d", ErrUnexpectedStatus, status)
	}
	return r
}

// namesSize reports whether a 400's body says the request was too large
// (Relay answers 413 for its size limits; a proxy in front may say 400).
func namesSize(body []byte) bool {
	s := strings.ToLower(string(body[:min(len(body), maxReasonBody)]))
	return strings.Contains(s, "too large") || strings.Contains(s, "size limit") || strings.Contains(s, "exceeded size")
}

// reason formats the head of a response body for an error message: at most
// maxReasonBody bytes, valid UTF-8, on one line.
func reason(body []byte) string {
	if len(body) > maxReasonBody {
		body = body[:maxReasonBody]
	}
	// A rune cut in half at the cap, or a binary body, becomes U+FFFD.
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	return ": " + s
}
