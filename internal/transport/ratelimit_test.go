package transport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRateLimits(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   []RateLimit
	}{
		{"", nil},
		{"60:error;transaction:org, 2700:default:organization", []RateLimit{
			{Categories: []string{"error", "transaction"}, RetryAfter: 60 * time.Second, Scope: "org"},
			{Categories: []string{"default"}, RetryAfter: 2700 * time.Second, Scope: "organization"},
		}},
		{"120", []RateLimit{{RetryAfter: 120 * time.Second}}},
		{"30::organization:quota_exceeded", []RateLimit{{RetryAfter: 30 * time.Second, Scope: "organization", ReasonCode: "quota_exceeded"}}},
		{"2.1:Error", []RateLimit{{Categories: []string{"error"}, RetryAfter: 3 * time.Second}}},
		{"-5:error", []RateLimit{{Categories: []string{"error"}, RetryAfter: 0}}},
		{"abc:error, 10:attachment, ,", []RateLimit{{Categories: []string{"attachment"}, RetryAfter: 10 * time.Second}}},
		{"NaN:error, Inf:error", nil},
	} {
		assert.Equal(t, tt.want, parseRateLimits(tt.header), tt.header)
	}
}

func TestLimitedFor(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := Result{Received: now, RateLimits: parseRateLimits("60:error;transaction:org, 2700:default:organization, 10:attachment, 5")}
	assert.Equal(t, 60*time.Second, r.LimitedFor(CategoryError))
	assert.Equal(t, 10*time.Second, r.LimitedFor(CategoryAttachment))
	assert.Equal(t, 2700*time.Second, r.LimitedFor("default"))
	assert.Equal(t, now.Add(60*time.Second), r.Until(CategoryError))
	assert.True(t, Result{Received: now}.Until(CategoryError).IsZero())
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		h  string
		d  time.Duration
		ok bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Wed, 01 Jan 2025 12:02:00 GMT", 2 * time.Minute, true},
		{"Wednesday, 01-Jan-25 12:00:10 GMT", 10 * time.Second, true},
		{"Wed, 01 Jan 2025 11:00:00 GMT", 0, true}, // in the past: now
		{"99999999999999999999", 0, false},
	} {
		d, ok := parseRetryAfter(tt.h, now)
		assert.Equal(t, tt.ok, ok, tt.h)
		assert.Equal(t, tt.d, d, tt.h)
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tt := range []struct {
		name       string
		status     int
		h          http.Header
		body       string
		outcome    Outcome
		retryAfter time.Duration
		errs       []error
	}{
		{"200", 200, hdr(), `{"id":"x"}`, Delivered, 0, nil},
		{"202", 202, hdr(), "", Delivered, 0, nil},
		{"500", 500, hdr(), "oops", Retry, 0, []error{ErrServer}},
		{"503 with Retry-After", 503, hdr("Retry-After", "120"), "", Retry, 2 * time.Minute, []error{ErrServer}},
		{"408", 408, hdr(), "", Retry, 0, []error{ErrServer}},
		{"429 default", 429, hdr(), "", RateLimited, 60 * time.Second, []error{ErrRateLimited}},
		{"429 Retry-After", 429, hdr("Retry-After", "30"), "", RateLimited, 30 * time.Second, []error{ErrRateLimited}},
		{"429 rate limits win", 429, hdr("Retry-After", "30", "X-Sentry-Rate-Limits", "60:error;transaction:org, 2700:default:organization"), "", RateLimited, 60 * time.Second, []error{ErrRateLimited}},
		{"429 limits for other categories", 429, hdr("Retry-After", "30", "X-Sentry-Rate-Limits", "90:transaction"), "", RateLimited, 30 * time.Second, []error{ErrRateLimited}},
		{"400", 400, hdr(), `{"detail":"invalid event envelope"}`, Rejected, 0, []error{ErrRejected}},
		{"413", 413, hdr(), "too large", Rejected, 0, []error{ErrRejected}},
		{"401", 401, hdr(), "", Rejected, 0, []error{ErrRejected, ErrUnauthorized}},
		{"403", 403, hdr(), "", Rejected, 0, []error{ErrRejected, ErrUnauthorized}},
		{"404", 404, hdr(), "", Rejected, 0, []error{ErrRejected}},
		{"302", 302, hdr(), "", Retry, 0, []error{ErrUnexpectedStatus}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := classify(tt.status, tt.h, []byte(tt.body), now)
			assert.Equal(t, tt.outcome, r.Outcome)
			assert.Equal(t, tt.status, r.StatusCode)
			assert.Equal(t, tt.retryAfter, r.RetryAfter)
			assert.Equal(t, now, r.Received)
			if tt.errs == nil {
				assert.NoError(t, r.Err)
			}
			for _, e := range tt.errs {
				assert.ErrorIs(t, r.Err, e)
			}
			if tt.outcome == Rejected && tt.body != "" {
				assert.ErrorContains(t, r.Err, tt.body)
			}
		})
	}
}

func TestClassifyRateLimitsOnSuccess(t *testing.T) {
	r := classify(200, http.Header{"X-Sentry-Rate-Limits": {"120:error:project"}}, nil, time.Now())
	assert.Equal(t, Delivered, r.Outcome)
	assert.Equal(t, 120*time.Second, r.LimitedFor(CategoryError))
}

func TestReasonIsCapped(t *testing.T) {
	// 1 + 2*2000 bytes: the 1 KiB cap cuts the last 2-byte rune in half.
	body := "a" + strings.Repeat("é", 2000)
	got := reason([]byte(body))
	assert.Equal(t, ": a"+strings.Repeat("é", 511)+"\uFFFD", got)

	assert.Equal(t, ": a b", reason([]byte("  a\n\n b  ")))
	assert.Equal(t, "", reason(nil))
}
