package outbox

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Caps on what the outbox keeps, so that a machine without a DSN or a
// network, or a crash loop, cannot fill the disk. The oldest reports go
// first; every removal is logged, counted in PruneStats, and counted for
// Sentry too: the next event sent says how many reports were dropped
// (Carried.Dropped).
const (
	// DefaultMaxReports is sentry-native's default (cache_max_items, 30).
	// With crash loops folded (at most LoopFull+1 reports per fingerprint
	// per window), 30 pending reports means 30 distinct crashes that could
	// not be sent: the newest tell what is wrong now.
	DefaultMaxReports = 30
	// DefaultMaxBytes caps the reports' total size: four of the largest
	// report the outbox takes (MaxReportSize, 16 MiB: about 10,000
	// goroutines at GOTRACEBACK=all), while a typical Go panic's report is
	// 10-100 KB, so the count cap is what usually applies.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxAge is 30 days: Relay keeps an event's own timestamp only
	// up to 30 days in the past (its max_secs_in_past) and files older
	// events under the time they arrive, so an older crash would be
	// misdated anyway, and a report that could not be sent for a month
	// will not be.
	DefaultMaxAge = 30 * 24 * time.Hour
	// DefaultQuarantineMaxBytes caps the quarantine's total size (beside
	// QuarantineKeep's count and MaxAge): files kept for a person to look
	// at, never sent.
	DefaultQuarantineMaxBytes = 32 << 20
)

// PruneStats counts what Prune removed.
type PruneStats struct {
	// Reports removed unsent, by cap.
	ByAge, ByCount, ByBytes int
	// Quarantined files removed (each with its reason file).
	Quarantine int
}

// Removed is the number of reports removed.
func (s PruneStats) Removed() int { return s.ByAge + s.ByCount + s.ByBytes }

// Prune applies the caps (Options.MaxAge, MaxReports, MaxBytes): reports
// older than MaxAge go, then the oldest until at most MaxReports remain
// whose sizes add up to at most MaxBytes. The newest report is always
// kept, whatever its size. A report being sent by someone (its claim held)
// is left alone. Each removal is logged and counted, for the next event
// sent to report (Carried.Dropped); the quarantine is pruned too. Put
// prunes after each report it writes, and a delivery pass before it starts.
func (o *Outbox) Prune() (PruneStats, error) {
	var st PruneStats
	entries, err := o.List()
	if err != nil {
		return st, err
	}
	now := o.now()
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	left := len(entries)
	for i, e := range entries {
		if i == len(entries)-1 {
			break // the newest stays
		}
		var why string
		var n *int
		switch {
		case o.maxAge > 0 && now.Sub(e.ModTime) > o.maxAge:
			why, n = fmt.Sprintf("older than %s", o.maxAge), &st.ByAge
		case o.maxReports > 0 && left > o.maxReports:
			why, n = fmt.Sprintf("more than %d reports", o.maxReports), &st.ByCount
		case o.maxBytes > 0 && total > o.maxBytes:
			why, n = fmt.Sprintf("more than %d bytes of reports", o.maxBytes), &st.ByBytes
		default:
			continue
		}
		if err := o.removeUnsent(e.ID); err != nil {
			if !errors.Is(err, ErrGone) && !errors.Is(err, ErrBusy) {
				o.log.Warn("outbox: cannot remove report over the caps", "event_id", e.ID, "err", err)
			}
			continue
		}
		*n++
		left--
		total -= e.Size
		o.log.Warn("outbox: report removed unsent by the outbox caps", "event_id", e.ID, "why", why,
			"written", e.ModTime, "bytes", e.Size, "attempts", e.State.Attempts)
	}
	o.countDropped(st.Removed())
	o.qMu.Lock()
	st.Quarantine = o.pruneQuarantine()
	o.qMu.Unlock()
	return st, nil
}

// removeUnsent removes report id and its state, holding its claim (only a
// claim holder may remove a report).
func (o *Outbox) removeUnsent(id string) error {
	h, err := o.hold(id)
	if err != nil {
		return err
	}
	defer h.release()
	if !canMoveOpenFiles {
		h.closeFile()
	}
	if err := os.Remove(h.path); err != nil && !isNotExist(err) {
		return err
	}
	if err := os.Remove(o.statePath(id)); err != nil && !isNotExist(err) {
		o.log.Warn("outbox: remove state", "file", id+stateExt, "err", err)
	}
	return nil
}
