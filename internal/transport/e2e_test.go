package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/sentryevent"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/transport"
)

const eventID = "5eed5eed5eed5eed5eed5eed5eed5eed"

// crashEnvelope is a real envelope built by sentryevent from a small report.
func crashEnvelope(t *testing.T, dsn string) []byte {
	t.Helper()
	r := &report.Report{
		EventID: eventID,
		Kind:    report.KindPanic,
		Message: "boom",
		Goroutines: []report.Goroutine{{ID: 1, State: "running", Crashed: true, Frames: []report.Frame{
			{Function: "main.main", Package: "main", File: "/src/main.go", Line: 5, InApp: true},
		}}},
		CrashedGoroutine: 1,
		Process:          report.Process{GOOS: "linux", GOARCH: "amd64", GoVersion: "go1.26.8", CrashTime: time.Now()},
		CrashOutput:      "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x25\n",
	}
	env, err := sentryevent.Envelope(r, sentryevent.Options{Dsn: dsn})
	require.NoError(t, err)
	return env
}

func setup(t *testing.T) (*sentrytest.Server, *transport.Sender, []byte) {
	t.Helper()
	srv := sentrytest.New()
	t.Cleanup(srv.Close)
	s, err := transport.NewSender(srv.DSN(), transport.Options{})
	require.NoError(t, err)
	return srv, s, crashEnvelope(t, srv.DSN())
}

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

func TestDelivered(t *testing.T) {
	srv, s, env := setup(t)
	res := s.Send(ctx(t, 10*time.Second), env)
	require.NoError(t, res.Err)
	assert.Equal(t, transport.Delivered, res.Outcome)
	assert.Equal(t, 200, res.StatusCode)
	assert.Empty(t, res.RateLimits)

	evs := srv.Events()
	require.Len(t, evs, 1)
	got := evs[0]
	assert.Equal(t, eventID, got.EventID)
	assert.Equal(t, "fatal", got.Event["level"])
	exc := got.Event["exception"].(map[string]any)["values"].([]any)[0].(map[string]any)
	assert.Equal(t, "panic", exc["type"])
	assert.Equal(t, "boom", exc["value"])
	require.Len(t, got.Attachments, 1)
	assert.Equal(t, sentryevent.CrashOutputFilename, got.Attachments[0].Filename)
	assert.Equal(t, "text/plain", got.Attachments[0].ContentType)
	assert.Equal(t, "event.attachment", got.Attachments[0].AttachmentType)
	assert.Contains(t, string(got.Attachments[0].Data), "panic: boom")

	assert.Equal(t, "Sentry sentry_version=7, sentry_key="+srv.Key()+", sentry_client=sentry.go.crashguard/"+sentryevent.SDKVersion,
		got.Header.Get("X-Sentry-Auth"))
	assert.Equal(t, "sentry.go.crashguard/"+sentryevent.SDKVersion, got.Header.Get("User-Agent"))
	assert.Equal(t, "application/x-sentry-envelope", got.Header.Get("Content-Type"))

	// gzip on the wire; the receiver decoded exactly the envelope.
	assert.Equal(t, "gzip", got.Header.Get("Content-Encoding"))
	assert.Equal(t, "gzip", got.ContentEncoding)
	assert.Equal(t, len(env), got.DecodedSize)
	assert.Equal(t, res.BodySize, got.BodySize)
	assert.Less(t, got.BodySize, len(env))
}

func TestNoCompressionSendsThePlainEnvelope(t *testing.T) {
	srv := sentrytest.New()
	t.Cleanup(srv.Close)
	s, err := transport.NewSender(srv.DSN(), transport.Options{NoCompression: true})
	require.NoError(t, err)
	env := crashEnvelope(t, srv.DSN())
	res := s.Send(ctx(t, 10*time.Second), env)
	require.NoError(t, res.Err)
	evs := srv.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, "", evs[0].Header.Get("Content-Encoding"))
	assert.Equal(t, len(env), evs[0].BodySize)
	assert.Equal(t, len(env), res.BodySize)
}

// TestLargeCrashEnvelopeCompresses: 2,000 goroutines of crash output, the
// event fitted by sentryevent; the body on the wire is a small fraction.
func TestLargeCrashEnvelopeCompresses(t *testing.T) {
	srv := sentrytest.New()
	t.Cleanup(srv.Close)
	srv.SetLimits(sentrytest.RelayLimits)
	s, err := transport.NewSender(srv.DSN(), transport.Options{})
	require.NoError(t, err)
	var out strings.Builder
	out.WriteString("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x25\n")
	r := &report.Report{
		EventID: eventID, Kind: report.KindPanic, Message: "boom", CrashedGoroutine: 1,
		Goroutines: []report.Goroutine{{ID: 1, State: "running", Crashed: true, Frames: []report.Frame{
			{Function: "main.main", Package: "main", File: "/src/main.go", Line: 5, InApp: true},
		}}},
		Process: report.Process{GOOS: "linux", GOARCH: "amd64", GoVersion: "go1.26.8", CrashTime: time.Now()},
	}
	for i := range 2000 {
		g := report.Goroutine{ID: int64(i + 2), State: "chan receive"}
		for d := range 6 {
			g.Frames = append(g.Frames, report.Frame{Function: "main.worker" + strconv.Itoa(i) + ".func" + strconv.Itoa(d),
				Package: "main", File: "/src/worker.go", Line: 10 + d, InApp: true})
		}
		r.Goroutines = append(r.Goroutines, g)
		fmt.Fprintf(&out, "\ngoroutine %d [chan receive]:\n", i+2)
		for d := range 6 {
			fmt.Fprintf(&out, "main.worker%d.func%d()\n\t/src/worker.go:%d +0x1d\n", i, d, 10+d)
		}
	}
	r.CrashOutput = out.String()
	env, err := sentryevent.Envelope(r, sentryevent.Options{Dsn: srv.DSN()})
	require.NoError(t, err)
	// Generous: under the race detector on a loaded 2-core machine the
	// receiver's schema check of a ~1 MB event alone takes seconds.
	res := s.Send(ctx(t, 2*time.Minute), env)
	require.NoError(t, res.Err)
	evs := srv.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, len(env), evs[0].DecodedSize)
	assert.Equal(t, r.CrashOutput, string(evs[0].Attachments[0].Data))
	t.Logf("envelope %d bytes (event %d, attachment %d), gzip body %d bytes: %.1fx",
		len(env), len(evs[0].Raw), len(r.CrashOutput), res.BodySize, float64(len(env))/float64(res.BodySize))
	assert.Less(t, res.BodySize*5, len(env))
}

func TestDeliveredCarriesRateLimits(t *testing.T) {
	srv, s, env := setup(t)
	srv.SetRateLimits("120:error:project, 10:attachment:project")
	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Delivered, res.Outcome)
	assert.Equal(t, 120*time.Second, res.LimitedFor(transport.CategoryError))
	assert.Equal(t, res.Received.Add(120*time.Second), res.Until(transport.CategoryError))
	assert.Equal(t, 10*time.Second, res.LimitedFor(transport.CategoryAttachment))
}

func TestRetryOnServerError(t *testing.T) {
	srv, s, env := setup(t)
	srv.FailNext(1, 500)
	srv.FailNextRetryAfter(1, 503, "42")

	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.Equal(t, 500, res.StatusCode)
	assert.Zero(t, res.RetryAfter, "no Retry-After: the caller's backoff decides")
	assert.ErrorIs(t, res.Err, transport.ErrServer)

	res = s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.Equal(t, 42*time.Second, res.RetryAfter)

	res = s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Delivered, res.Outcome, "the same envelope goes through once the server recovers")
	assert.Len(t, srv.Events(), 1)
	assert.Equal(t, sentrytest.Counts{Requests: 3, Accepted: 1, Failed: 2}, srv.Counts())
}

func TestRetryOnDroppedConnection(t *testing.T) {
	srv, s, env := setup(t)
	srv.DropNext(1)
	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.Zero(t, res.StatusCode)
	assert.ErrorIs(t, res.Err, transport.ErrNetwork)
	assert.Equal(t, 1, srv.Counts().Dropped)
}

func TestRetryOnTimeout(t *testing.T) {
	srv, s, env := setup(t)
	srv.Slow(time.Hour)
	start := time.Now()
	res := s.Send(ctx(t, 100*time.Millisecond), env)
	assert.Less(t, time.Since(start), 5*time.Second, "the context bounds the send")
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.ErrorIs(t, res.Err, transport.ErrNetwork)
	assert.ErrorIs(t, res.Err, context.DeadlineExceeded)
	assert.Empty(t, srv.Events())
}

func TestSenderTimeoutWithoutDeadline(t *testing.T) {
	srv := sentrytest.New()
	t.Cleanup(srv.Close)
	srv.Slow(time.Hour)
	s, err := transport.NewSender(srv.DSN(), transport.Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	res := s.Send(context.Background(), crashEnvelope(t, srv.DSN()))
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.ErrorIs(t, res.Err, context.DeadlineExceeded)
}

func TestRetryWhenServerIsGone(t *testing.T) {
	srv, s, env := setup(t)
	srv.Close()
	// Refused or reset, depending on timing: either way no answer.
	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Retry, res.Outcome)
	assert.Zero(t, res.StatusCode)
	assert.ErrorIs(t, res.Err, transport.ErrNetwork)
}

func TestRateLimited(t *testing.T) {
	srv, s, env := setup(t)
	srv.RateLimitNext(1, "30", "60:error;transaction:org, 2700:default:organization")
	srv.RateLimitNext(1, "30", "")
	srv.RateLimitNext(1, "", "")

	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.RateLimited, res.Outcome)
	assert.Equal(t, 429, res.StatusCode)
	assert.Equal(t, 60*time.Second, res.RetryAfter, "X-Sentry-Rate-Limits for errors wins over Retry-After")
	assert.Equal(t, []transport.RateLimit{
		{Categories: []string{"error", "transaction"}, RetryAfter: 60 * time.Second, Scope: "org"},
		{Categories: []string{"default"}, RetryAfter: 2700 * time.Second, Scope: "organization"},
	}, res.RateLimits)
	assert.ErrorIs(t, res.Err, transport.ErrRateLimited)

	res = s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.RateLimited, res.Outcome)
	assert.Equal(t, 30*time.Second, res.RetryAfter)

	res = s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.RateLimited, res.Outcome)
	assert.Equal(t, 60*time.Second, res.RetryAfter, "the default")
	assert.Equal(t, 3, srv.Counts().RateLimited)
	assert.Empty(t, srv.Events())
}

func TestRejected(t *testing.T) {
	srv, s, env := setup(t)
	srv.RejectNext(1, 400)
	srv.RejectNext(1, 413)

	res := s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Rejected, res.Outcome)
	assert.Equal(t, 400, res.StatusCode)
	assert.ErrorIs(t, res.Err, transport.ErrRejected)
	assert.ErrorContains(t, res.Err, "injected 400", "the body head says why")

	assert.False(t, errors.Is(res.Err, transport.ErrTooLarge))

	res = s.Send(ctx(t, 10*time.Second), env)
	assert.Equal(t, transport.Rejected, res.Outcome)
	assert.Equal(t, 413, res.StatusCode)
	assert.ErrorIs(t, res.Err, transport.ErrRejected)
	assert.ErrorIs(t, res.Err, transport.ErrTooLarge)
}

func TestBadRequestNamingSizeIsTooLarge(t *testing.T) {
	for body, tooLarge := range map[string]bool{
		`{"detail":"request too large"}`:             true,
		`{"detail":"envelope exceeded size limits"}`: true,
		`{"detail":"invalid event id"}`:              false,
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(body))
		}))
		s, err := transport.NewSender("http://k@"+strings.TrimPrefix(hs.URL, "http://")+"/1", transport.Options{})
		require.NoError(t, err)
		res := s.Send(ctx(t, 10*time.Second), []byte("{}\n"))
		hs.Close()
		assert.Equal(t, transport.Rejected, res.Outcome, body)
		assert.Equal(t, tooLarge, errors.Is(res.Err, transport.ErrTooLarge), body)
	}
}

func TestRejectedByValidation(t *testing.T) {
	srv, s, _ := setup(t)
	res := s.Send(ctx(t, 10*time.Second), []byte("{}\n{\"type\":\"event\",\"length\":500}\n{}\n"))
	assert.Equal(t, transport.Rejected, res.Outcome)
	assert.Equal(t, 400, res.StatusCode)
	assert.ErrorContains(t, res.Err, "length 500")
	require.Len(t, srv.Rejections(), 1)
}

func TestRejectedWrongKey(t *testing.T) {
	srv := sentrytest.New()
	t.Cleanup(srv.Close)
	dsn := strings.Replace(srv.DSN(), srv.Key(), "0000", 1)
	s, err := transport.NewSender(dsn, transport.Options{})
	require.NoError(t, err)
	res := s.Send(ctx(t, 10*time.Second), crashEnvelope(t, dsn))
	assert.Equal(t, transport.Rejected, res.Outcome)
	assert.Equal(t, 401, res.StatusCode)
	assert.ErrorIs(t, res.Err, transport.ErrRejected)
	assert.ErrorIs(t, res.Err, transport.ErrUnauthorized)
}

func TestInvalidDSN(t *testing.T) {
	for _, dsn := range []string{"", "not a url", "ftp://k@host/1", "https://host/1", "https://k@host/"} {
		_, err := transport.NewSender(dsn, transport.Options{})
		assert.ErrorIs(t, err, transport.ErrInvalidDSN, dsn)
	}
}

func TestEmptyEnvelope(t *testing.T) {
	s, err := transport.NewSender("http://k@127.0.0.1:1/1", transport.Options{})
	require.NoError(t, err)
	res := s.Send(context.Background(), nil)
	assert.ErrorIs(t, res.Err, transport.ErrEmptyEnvelope)
}

func TestEndpointAndSecret(t *testing.T) {
	// A DSN with a path prefix and a (deprecated) secret key, as old
	// self-hosted installations have.
	var auth, path string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("X-Sentry-Auth"), r.URL.Path
	}))
	t.Cleanup(hs.Close)
	dsn := "http://pub:sec@" + strings.TrimPrefix(hs.URL, "http://") + "/sentry/7"
	s, err := transport.NewSender(dsn, transport.Options{SDKName: "x", SDKVersion: "9"})
	require.NoError(t, err)
	assert.Equal(t, hs.URL+"/sentry/api/7/envelope/", s.URL())
	res := s.Send(ctx(t, 10*time.Second), []byte("{}\n"))
	assert.Equal(t, transport.Delivered, res.Outcome)
	assert.Equal(t, "/sentry/api/7/envelope/", path)
	assert.Equal(t, "Sentry sentry_version=7, sentry_key=pub, sentry_client=x/9, sentry_secret=sec", auth)
}

func TestHugeErrorBodyIsCapped(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	t.Cleanup(hs.Close)
	s, err := transport.NewSender("http://k@"+strings.TrimPrefix(hs.URL, "http://")+"/1", transport.Options{})
	require.NoError(t, err)
	res := s.Send(ctx(t, 10*time.Second), []byte("{}\n"))
	assert.Equal(t, transport.Rejected, res.Outcome)
	assert.Less(t, len(res.Err.Error()), 1200)
	assert.True(t, errors.Is(res.Err, transport.ErrRejected))
}
