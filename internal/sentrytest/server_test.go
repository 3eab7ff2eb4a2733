package sentrytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testEventID = "0123456789abcdef0123456789abcdef"

// validEnvelope is a small well-formed envelope with an event and an attachment.
func validEnvelope() string {
	ev := `{"event_id":"` + testEventID + `","level":"fatal"}`
	return `{"event_id":"` + testEventID + `","sent_at":"2025-01-01T00:00:00Z"}` + "\n" +
		`{"type":"event","length":` + strconv.Itoa(len(ev)) + "}\n" + ev + "\n" +
		`{"type":"attachment","length":11,"filename":"out.txt","content_type":"text/plain","attachment_type":"event.attachment"}` + "\n" +
		"line1\nline2\n"
}

// request builds a request that the receiver accepts; mutate changes it.
func request(t *testing.T, s *Server, body string, mutate ...func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+s.EnvelopePath(), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+s.Key()+", sentry_client=test/1")
	for _, m := range mutate {
		m(req)
	}
	return req
}

// do sends req and returns status and body.
func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func newServer(t *testing.T) *Server {
	s := New()
	t.Cleanup(s.Close)
	return s
}

func TestDSN(t *testing.T) {
	s := newServer(t)
	assert.Equal(t, "http://"+s.Key()+"@"+strings.TrimPrefix(s.URL(), "http://")+"/42", s.DSN())
	assert.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	assert.Equal(t, "/api/42/envelope/", s.EnvelopePath())
}

func TestAcceptsValidEnvelope(t *testing.T) {
	s := newServer(t)
	status, body := do(t, request(t, s, validEnvelope()))
	require.Equal(t, http.StatusOK, status, body)
	assert.JSONEq(t, `{"id":"`+testEventID+`"}`, body)

	evs := s.Events()
	require.Len(t, evs, 1)
	r := evs[0]
	assert.Equal(t, testEventID, r.EventID)
	assert.Equal(t, "fatal", r.Event["level"])
	assert.Equal(t, `{"event_id":"`+testEventID+`","level":"fatal"}`, string(r.Raw))
	assert.Equal(t, []Attachment{{Filename: "out.txt", ContentType: "text/plain", AttachmentType: "event.attachment", Data: []byte("line1\nline2")}}, r.Attachments)
	assert.Equal(t, "application/x-sentry-envelope", r.Header.Get("Content-Type"))
	assert.Equal(t, Counts{Requests: 1, Accepted: 1}, s.Counts())
	assert.Empty(t, s.Rejections())
}

func TestAcceptsOtherAuthForms(t *testing.T) {
	s := newServer(t)
	// Query string, as Relay accepts (browser SDKs).
	status, body := do(t, request(t, s, validEnvelope(), func(r *http.Request) {
		r.Header.Del("X-Sentry-Auth")
		r.URL.RawQuery = "sentry_key=" + s.Key() + "&sentry_version=7"
	}))
	assert.Equal(t, http.StatusOK, status, body)
	// Authorization: Sentry ...
	status, body = do(t, request(t, s, validEnvelope(), func(r *http.Request) {
		r.Header.Del("X-Sentry-Auth")
		r.Header.Set("Authorization", "Sentry sentry_key="+s.Key()+", sentry_version=7")
	}))
	assert.Equal(t, http.StatusOK, status, body)
	// Content-Type parameters are fine.
	status, body = do(t, request(t, s, validEnvelope(), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-sentry-envelope; charset=utf-8")
	}))
	assert.Equal(t, http.StatusOK, status, body)
	assert.Len(t, s.Events(), 3)
}

func TestAcceptsGzip(t *testing.T) {
	s := newServer(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(validEnvelope()))
	require.NoError(t, zw.Close())
	status, body := do(t, request(t, s, buf.String(), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }))
	require.Equal(t, http.StatusOK, status, body)
	ev := s.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, "gzip", ev[0].ContentEncoding)
	assert.Equal(t, buf.Len(), ev[0].BodySize)
	assert.Equal(t, len(validEnvelope()), ev[0].DecodedSize)
	assert.Equal(t, "fatal", ev[0].Event["level"])
	require.Len(t, ev[0].Attachments, 1)
	assert.Equal(t, "line1\nline2", string(ev[0].Attachments[0].Data))

	// A body that is not gzip is refused, not taken as plain.
	status, _ = do(t, request(t, s, validEnvelope(), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }))
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
}

func TestPlainBodySizes(t *testing.T) {
	s := newServer(t)
	status, body := do(t, request(t, s, validEnvelope()))
	require.Equal(t, http.StatusOK, status, body)
	ev := s.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, "", ev[0].ContentEncoding)
	assert.Equal(t, len(validEnvelope()), ev[0].BodySize)
	assert.Equal(t, len(validEnvelope()), ev[0].DecodedSize)
}

func TestRelayLimits(t *testing.T) {
	s := newServer(t)
	ev := `{"event_id":"` + testEventID + `","level":"fatal"}`
	env := validEnvelope()
	cases := []struct {
		limits Limits
		reason string
	}{
		{Limits{MaxEventSize: len(ev) - 1}, "event item of " + strconv.Itoa(len(ev)) + " bytes over max_event_size " + strconv.Itoa(len(ev)-1)},
		{Limits{MaxAttachmentSize: 10}, `attachment "out.txt" of 11 bytes over max_attachment_size 10`},
		{Limits{MaxAttachmentsSize: 10}, "attachments of 11 bytes over max_attachments_size 10"},
		{Limits{MaxEnvelopeSize: len(env) - 1}, "envelope of " + strconv.Itoa(len(env)) + " bytes over max_envelope_size " + strconv.Itoa(len(env)-1)},
	}
	for i, c := range cases {
		s.SetLimits(c.limits)
		status, body := do(t, request(t, s, env))
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		rej := s.Rejections()
		require.Len(t, rej, i+1)
		assert.Equal(t, Rejection{Status: 413, Reason: "envelope exceeded size limits: " + c.reason}, rej[i])
	}
	assert.Empty(t, s.Events())

	// Exactly at the limits is fine; RelayLimits take an ordinary envelope.
	s.SetLimits(Limits{MaxEventSize: len(ev), MaxAttachmentSize: 11, MaxAttachmentsSize: 11, MaxEnvelopeSize: len(env)})
	status, body := do(t, request(t, s, env))
	assert.Equal(t, http.StatusOK, status, body)
	s.SetLimits(RelayLimits)
	status, body = do(t, request(t, s, env))
	assert.Equal(t, http.StatusOK, status, body)
	assert.Len(t, s.Events(), 2)
	assert.Equal(t, Counts{Requests: 6, Accepted: 2, Rejected: 4}, s.Counts())
}

func TestAcceptsEnvelopeWithoutEvent(t *testing.T) {
	s := newServer(t)
	status, body := do(t, request(t, s, "{}\n{\"type\":\"session\",\"length\":2}\n{}\n"))
	require.Equal(t, http.StatusOK, status, body)
	assert.Empty(t, s.Events())
	assert.Len(t, s.Envelopes(), 1)
}

func TestRejectsInvalidRequests(t *testing.T) {
	for _, tt := range []struct {
		name   string
		body   string
		mutate func(*http.Request)
		status int
		reason string
	}{
		{"wrong path", validEnvelope(), func(r *http.Request) { r.URL.Path = "/api/43/envelope/" }, 404, "unknown path"},
		{"store endpoint", validEnvelope(), func(r *http.Request) { r.URL.Path = "/api/42/store/" }, 404, "unknown path"},
		{"GET", validEnvelope(), func(r *http.Request) { r.Method = http.MethodGet }, 405, "method GET"},
		{"no auth", validEnvelope(), func(r *http.Request) { r.Header.Del("X-Sentry-Auth") }, 401, "missing authorization"},
		{"auth not Sentry scheme", validEnvelope(), func(r *http.Request) { r.Header.Set("X-Sentry-Auth", "Bearer abc") }, 401, `"Sentry "`},
		{"auth without key", validEnvelope(), func(r *http.Request) { r.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7") }, 401, "no sentry_key"},
		{"wrong key", validEnvelope(), func(r *http.Request) {
			r.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key=nope")
		}, 401, "unknown sentry_key nope"},
		{"wrong version", validEnvelope(), func(r *http.Request) {
			r.Header.Set("X-Sentry-Auth", strings.Replace(r.Header.Get("X-Sentry-Auth"), "sentry_version=7", "sentry_version=6", 1))
		}, 401, `sentry_version "6"`},
		{"query auth wrong key", validEnvelope(), func(r *http.Request) {
			r.Header.Del("X-Sentry-Auth")
			r.URL.RawQuery = "sentry_key=nope&sentry_version=7"
		}, 401, "unknown sentry_key"},
		{"JSON content type", validEnvelope(), func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, 415, "Content-Type"},
		{"no content type", validEnvelope(), func(r *http.Request) { r.Header.Del("Content-Type") }, 415, "Content-Type"},
		{"brotli", validEnvelope(), func(r *http.Request) { r.Header.Set("Content-Encoding", "br") }, 415, "Content-Encoding"},
		{"bad framing", "{}\n{\"type\":\"event\",\"length\":99}\n{}\n", nil, 400, "length 99"},
		{"event not an object", "{}\n{\"type\":\"event\",\"length\":2}\n[]\n", nil, 400, "event payload"},
		{"event id mismatch", `{"event_id":"` + testEventID + "\"}\n{\"type\":\"event\"}\n{\"event_id\":\"ffffffffffffffffffffffffffffffff\"}\n", nil, 400, "differs"},
		{"bad event id", `{"event_id":"123"}` + "\n", nil, 400, "not a UUID"},
		{"two events", "{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"event\"}\n{}\n", nil, 400, "more than one event"},
		{"attachment without filename", "{}\n{\"type\":\"attachment\",\"length\":1}\na\n", nil, 400, "without filename"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			var mut []func(*http.Request)
			if tt.mutate != nil {
				mut = append(mut, tt.mutate)
			}
			status, body := do(t, request(t, s, tt.body, mut...))
			assert.Equal(t, tt.status, status, body)
			assert.Contains(t, body, "detail")

			rej := s.Rejections()
			require.Len(t, rej, 1)
			assert.Equal(t, tt.status, rej[0].Status)
			assert.Contains(t, rej[0].Reason, tt.reason)
			assert.Equal(t, Counts{Requests: 1, Rejected: 1}, s.Counts())
			assert.Empty(t, s.Envelopes())
		})
	}
}

func TestRejectsOversizedBody(t *testing.T) {
	s := newServer(t)
	status, _ := do(t, request(t, s, "{}\n"+strings.Repeat("x", MaxBodySize)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, 1, s.Counts().Rejected)
}

func TestFailNext(t *testing.T) {
	s := newServer(t)
	s.FailNext(2, http.StatusInternalServerError)
	s.FailNextRetryAfter(1, http.StatusServiceUnavailable, "7")
	for range 2 {
		status, body := do(t, request(t, s, validEnvelope()))
		assert.Equal(t, 500, status)
		assert.Contains(t, body, "injected 500")
	}
	resp, err := http.DefaultClient.Do(request(t, s, validEnvelope()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))

	status, _ := do(t, request(t, s, validEnvelope()))
	assert.Equal(t, 200, status, "faults used up")
	assert.Equal(t, Counts{Requests: 4, Accepted: 1, Failed: 3}, s.Counts())
	assert.Len(t, s.Events(), 1)
}

func TestFaultsApplyBeforeValidation(t *testing.T) {
	s := newServer(t)
	s.FailNext(1, 502)
	status, _ := do(t, request(t, s, "garbage"))
	assert.Equal(t, 502, status)
	assert.Empty(t, s.Rejections())
}

func TestRejectNext(t *testing.T) {
	s := newServer(t)
	s.RejectNext(1, http.StatusRequestEntityTooLarge)
	s.RejectNext(1, http.StatusBadRequest)
	status, _ := do(t, request(t, s, validEnvelope()))
	assert.Equal(t, 413, status)
	status, _ = do(t, request(t, s, validEnvelope()))
	assert.Equal(t, 400, status)
	assert.Equal(t, Counts{Requests: 2, Rejected: 2}, s.Counts())
	assert.Panics(t, func() { s.RejectNext(1, 500) })
}

func TestRateLimitNext(t *testing.T) {
	s := newServer(t)
	s.RateLimitNext(1, "30", "60:error;transaction:org, 2700:default:organization")
	s.RateLimitNext(1, "", "")
	resp, err := http.DefaultClient.Do(request(t, s, validEnvelope()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "30", resp.Header.Get("Retry-After"))
	assert.Equal(t, "60:error;transaction:org, 2700:default:organization", resp.Header.Get("X-Sentry-Rate-Limits"))

	resp, err = http.DefaultClient.Do(request(t, s, validEnvelope()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.NotContains(t, resp.Header, "Retry-After")
	assert.NotContains(t, resp.Header, "X-Sentry-Rate-Limits")
	assert.Equal(t, Counts{Requests: 2, RateLimited: 2}, s.Counts())
}

func TestSetRateLimitsOnSuccess(t *testing.T) {
	s := newServer(t)
	s.SetRateLimits("120:error:project")
	resp, err := http.DefaultClient.Do(request(t, s, validEnvelope()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "120:error:project", resp.Header.Get("X-Sentry-Rate-Limits"))
}

func TestDropNext(t *testing.T) {
	s := newServer(t)
	s.DropNext(1)
	_, err := http.DefaultClient.Do(request(t, s, validEnvelope()))
	require.Error(t, err)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, Counts{Requests: 1, Dropped: 1}, s.Counts())

	status, _ := do(t, request(t, s, validEnvelope()))
	assert.Equal(t, 200, status)
}

func TestSlow(t *testing.T) {
	s := newServer(t)
	s.Slow(150 * time.Millisecond)
	start := time.Now()
	status, _ := do(t, request(t, s, validEnvelope()))
	assert.Equal(t, 200, status)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// A client that gives up is counted as abandoned, and nothing is stored.
	s.Slow(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := http.DefaultClient.Do(request(t, s, validEnvelope()).WithContext(ctx))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	require.NoError(t, s.WaitRequests(wctx, 2))
	assert.Equal(t, Counts{Requests: 2, Accepted: 1, Abandoned: 1}, s.Counts())
}

func TestCloseEndsSlowAnswers(t *testing.T) {
	s := New()
	s.Slow(time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(request(t, s, validEnvelope()))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.wait(ctx, func() bool { return s.counts.Requests == 1 }))
	start := time.Now()
	s.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	select {
	case err := <-done:
		assert.Error(t, err, "the client gets no answer")
	case <-time.After(5 * time.Second):
		t.Fatal("client still waiting after Close")
	}
}

func TestWaitEvents(t *testing.T) {
	s := newServer(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 3 {
			req := request(t, s, validEnvelope())
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := s.WaitEvents(ctx, 3)
	require.NoError(t, err)
	assert.Len(t, evs, 3)
	wg.Wait()

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	evs, err = s.WaitEvents(short, 4)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Len(t, evs, 3, "returns what has arrived")
}
