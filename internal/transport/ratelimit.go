package transport

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultRateLimit is how long a 429 without any usable header limits
// sending, as in sentry-go and the other Sentry SDKs.
const defaultRateLimit = 60 * time.Second

// parseRateLimits parses X-Sentry-Rate-Limits, following Relay
// (relay-server/src/utils/rate_limits.rs) and sentry-go
// (internal/ratelimit/rate_limits.go): comma-separated entries
// "retry_after:categories:scope:reason_code:namespaces", retry_after in
// (possibly fractional, rounded up) seconds, categories separated by ";",
// none meaning all. Malformed entries are skipped, not fatal: the header is
// advice, and one bad entry must not hide the others.
func parseRateLimits(h string) []RateLimit {
	var out []RateLimit
	for _, entry := range strings.Split(h, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		secs, err := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			continue
		}
		l := RateLimit{RetryAfter: time.Duration(math.Ceil(math.Max(secs, 0))) * time.Second}
		if len(parts) > 1 {
			for _, c := range strings.Split(parts[1], ";") {
				if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
					l.Categories = append(l.Categories, c)
				}
			}
		}
		if len(parts) > 2 {
			l.Scope = strings.TrimSpace(parts[2])
		}
		if len(parts) > 3 {
			l.ReasonCode = strings.TrimSpace(parts[3])
		}
		out = append(out, l)
	}
	return out
}

// parseRetryAfter parses the Retry-After header: non-negative integer
// seconds or an HTTP date. ok is false when absent or unusable.
func parseRetryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 || n > int64(math.MaxInt64/time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
