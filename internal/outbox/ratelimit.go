package outbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"time"
)

// rateLimitFile is the JSON form of D/ratelimit.json. Categories are
// Sentry's data categories ("error", "attachment", ...); "" means all.
type rateLimitFile struct {
	Limits map[string]time.Time `json:"limits"`
}

// SetRateLimit records that Sentry refuses category until the given time
// (from a 429's Retry-After or X-Sentry-Rate-Limits). The latest answer from
// Sentry wins, also when it is shorter than the one stored; an until that is
// not after now clears the category. Limits are capped at MaxDelay.
//
// Several processes may set limits at once; the file is replaced
// atomically, but one process's update can be lost to another's. The cost is
// one more request that Sentry answers with 429 again, so no lock is taken.
func (o *Outbox) SetRateLimit(category string, until time.Time) error {
	o.rlMu.Lock()
	defer o.rlMu.Unlock()
	now := o.now()
	limits := o.readRateLimits()
	for c, u := range limits {
		if !u.After(now) {
			delete(limits, c)
		}
	}
	if until.After(now) {
		if limit := now.Add(MaxDelay); until.After(limit) {
			until = limit
		}
		limits[category] = until.UTC().Round(0)
	} else {
		delete(limits, category)
	}
	data, err := json.Marshal(rateLimitFile{Limits: limits})
	if err != nil {
		return fmt.Errorf("outbox: encode rate limits: %w", err)
	}
	if _, err := o.writeAtomic(filepath.Join(o.dir, rateLimitName), data, true); err != nil {
		return fmt.Errorf("outbox: write rate limits: %w", err)
	}
	return nil
}

// RateLimited reports whether category is rate limited at now, by its own
// limit or by the all-categories limit "", and until when. It reads the file
// each time, so limits set by another process count too. A broken file is
// quarantined and means no limits: the next 429 sets them again.
func (o *Outbox) RateLimited(category string, now time.Time) (until time.Time, limited bool) {
	o.rlMu.Lock()
	defer o.rlMu.Unlock()
	limits := o.readRateLimits()
	for _, c := range []string{category, ""} {
		// A limit further ahead than MaxDelay was set on a clock that
		// has since gone back; ignore it rather than go silent for long.
		if u := limits[c]; ahead(u, now) && u.After(until) {
			until = u
		}
	}
	return until, !until.IsZero()
}

// readRateLimits returns the stored limits, never nil; o.rlMu must be held.
func (o *Outbox) readRateLimits() map[string]time.Time {
	limits := map[string]time.Time{}
	data, err := readSmall(filepath.Join(o.dir, rateLimitName))
	if err != nil {
		if isBroken(err) {
			_ = o.quarantineName(rateLimitName, err.Error(), "")
		} else if !isNotExist(err) {
			o.log.Warn("outbox: read rate limits", "err", err)
		}
		return limits
	}
	var f rateLimitFile
	if err := json.Unmarshal(data, &f); err != nil {
		_ = o.quarantineName(rateLimitName, "parse rate limits: "+err.Error(), "")
		return limits
	}
	maps.Copy(limits, f.Limits)
	return limits
}
