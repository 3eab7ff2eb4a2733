package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

// testHookAfterOpen, when a test sets it, runs between opening a report and
// locking it: the window in which another process may deliver (unlink) it.
var testHookAfterOpen func(path string)

// Claim is the exclusive right, across processes, to deliver one report. A
// claim ends with exactly one of Delivered, Failed, Quarantine or Release;
// the others then return ErrClaimEnded, and Release does nothing, so
// `defer c.Release()` is always safe. A Claim is not for concurrent use.
type Claim struct {
	o     *Outbox
	id    string
	h     *held // nil once the claim ended
	r     *report.Report
	state State
}

// held is a report file whose claim lock this process holds.
type held struct {
	path   string
	f      *os.File    // nil once closed (Windows closes it after reading)
	fi     fs.FileInfo // identity of the file that was opened and locked
	unlock func()
}

// Claim takes the report id for delivery. Two claims of the same report,
// in one process or in several, never both succeed: the loser gets ErrBusy
// while the winner holds it, and ErrGone once it was delivered. A report that
// cannot be used is quarantined and Claim returns ErrCorrupt.
//
// The report and its delivery state are read and validated before Claim
// returns, so a successful Claim always has a sendable Report.
func (o *Outbox) Claim(id string) (*Claim, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: report id %q", ErrInvalid, id)
	}
	h, err := o.hold(id)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim %s: %w", id, err)
	}
	c := &Claim{o: o, id: id, h: h}
	r, err := readReport(id, h.f, h.fi)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			_ = c.quarantine(err.Error())
		}
		c.end()
		return nil, fmt.Errorf("outbox: claim %s: %w", id, err)
	}
	c.r = r
	if !canMoveOpenFiles {
		h.closeFile()
	}
	st, err := o.readState(id)
	if isBroken(err) {
		// A broken state costs only the attempt count; the report is
		// fine. Holding the claim, moving the state aside is ours to do.
		_ = o.quarantineName(id+stateExt, err.Error(), "")
	} else if err != nil {
		o.log.Warn("outbox: read state", "file", id+stateExt, "err", err)
	}
	c.state = st
	return c, nil
}

// hold opens the report id, takes its claim lock and proves that the locked
// file is still the one the path names. Without that proof this could
// happen: we open the file, another process delivers it (unlinks it) and
// releases its lock, we lock the now nameless file and send it again.
func (o *Outbox) hold(id string) (*held, error) {
	f, fi, err := o.openReport(id)
	if err != nil {
		return nil, err
	}
	path := o.reportPath(id)
	if testHookAfterOpen != nil {
		testHookAfterOpen(path)
	}
	unlock, err := lockReport(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	h := &held{path: path, f: f, fi: fi, unlock: unlock}
	if err := h.verify(); err != nil {
		h.release()
		return nil, err
	}
	return h, nil
}

// verify checks that the held file still has a name and that the name is
// the path: same file by device and inode (the open descriptor keeps the
// inode from being reused), link count above zero.
func (h *held) verify() error {
	if h.f != nil {
		fi, err := h.f.Stat()
		if err != nil {
			return err
		}
		if linkCount(fi) == 0 {
			return fmt.Errorf("%w: removed by another process", ErrGone)
		}
	}
	li, err := os.Lstat(h.path)
	if isNotExist(err) {
		return fmt.Errorf("%w: removed by another process", ErrGone)
	}
	if err != nil {
		return err
	}
	if !os.SameFile(h.fi, li) {
		return fmt.Errorf("%w: replaced by another file", ErrGone)
	}
	return nil
}

func (h *held) closeFile() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

func (h *held) release() {
	h.unlock()
	h.closeFile()
}

// end releases the claim; later calls do nothing.
func (c *Claim) end() {
	if c.h != nil {
		c.h.release()
		c.h = nil
	}
}

// ID returns the claimed report's event id.
func (c *Claim) ID() string { return c.id }

// Report returns the parsed, validated report.
func (c *Claim) Report() *report.Report { return c.r }

// State returns the delivery state: as read at Claim, or as recorded by
// Failed.
func (c *Claim) State() State { return c.state }

// Delivered removes the report and its state and ends the claim. Call it
// only after Sentry answered 2xx. The unlink happens while the lock is held,
// so no other process can claim the report between our send and the unlink.
func (c *Claim) Delivered() error {
	if c.h == nil {
		return ErrClaimEnded
	}
	defer c.end()
	o := c.o
	if err := c.h.verify(); err != nil {
		return fmt.Errorf("outbox: delivered %s: %w", c.id, err)
	}
	if !canMoveOpenFiles {
		c.h.closeFile()
	}
	if err := os.Remove(c.h.path); err != nil && !isNotExist(err) {
		return fmt.Errorf("outbox: delivered %s: %w", c.id, err)
	}
	// The report is gone; a state left behind by a failure here is an
	// orphan that List removes.
	if err := os.Remove(o.statePath(c.id)); err != nil && !isNotExist(err) {
		o.log.Warn("outbox: remove state", "file", c.id+stateExt, "err", err)
	}
	if err := syncDir(o.dir); err != nil {
		// Worst case the report reappears after a power cut and is sent
		// again; Sentry deduplicates it by event id. Not worth failing for.
		o.log.Warn("outbox: sync dir after delivery", "dir", o.dir, "err", err)
	}
	return nil
}

// Failed records a failed attempt and ends the claim: attempts+1, the error
// text, and the next attempt time, which is now+retryAfter when retryAfter
// is positive (Sentry's Retry-After), else exponential backoff with jitter
// (see Options). Delays are capped at MaxDelay.
func (c *Claim) Failed(cause error, retryAfter time.Duration) error {
	if c.h == nil {
		return ErrClaimEnded
	}
	defer c.end()
	o := c.o
	if err := c.h.verify(); err != nil {
		return fmt.Errorf("outbox: failed %s: %w", c.id, err)
	}
	now := o.now()
	st := c.state
	st.Attempts++
	st.LastError = errorText(cause)
	st.LastAttempt = now
	delay := retryAfter
	if delay <= 0 {
		delay = o.backoff(st.Attempts)
	}
	st.NextAttempt = now.Add(min(delay, MaxDelay))
	if err := o.writeState(c.id, st); err != nil {
		return fmt.Errorf("outbox: failed %s: write state: %w", c.id, err)
	}
	c.state = st
	return nil
}

// Quarantine moves the report to quarantine/ with reason (e.g. "sentry: 413
// Payload Too Large"), removes its state and ends the claim. Use it when
// Sentry rejected the report for good (400, 413).
func (c *Claim) Quarantine(reason string) error {
	if c.h == nil {
		return ErrClaimEnded
	}
	defer c.end()
	if err := c.h.verify(); err != nil {
		return fmt.Errorf("outbox: quarantine %s: %w", c.id, err)
	}
	return c.quarantine(reason)
}

// Release ends the claim and leaves the report as it is, for a later
// attempt. It does nothing if the claim already ended.
func (c *Claim) Release() { c.end() }

// quarantine moves the held report aside; the claim must be held.
func (c *Claim) quarantine(reason string) error {
	o := c.o
	if !canMoveOpenFiles {
		c.h.closeFile()
	}
	var details string
	if c.state.Attempts > 0 {
		details = fmt.Sprintf("attempts: %d\nlast_error: %s\n", c.state.Attempts, c.state.LastError)
	}
	if err := o.quarantineName(c.id+reportExt, reason, details); err != nil {
		return fmt.Errorf("outbox: quarantine %s: %w", c.id, err)
	}
	if err := os.Remove(o.statePath(c.id)); err != nil && !isNotExist(err) {
		o.log.Warn("outbox: remove state", "file", c.id+stateExt, "err", err)
	}
	return nil
}

// rejectReport quarantines a report found unusable by List or Load. It takes
// the claim first, because only a holder may move a report; if another
// process holds it, that holder will find the same fault when it reads it.
func (o *Outbox) rejectReport(id string, cause error) {
	h, err := o.hold(id)
	if err != nil {
		if !errors.Is(err, ErrGone) && !errors.Is(err, ErrCorrupt) {
			o.log.Warn("outbox: cannot quarantine now", "file", id+reportExt, "reason", cause, "err", err)
		}
		return
	}
	c := &Claim{o: o, id: id, h: h}
	c.state, _ = o.readState(id) // for the reason file only
	_ = c.quarantine(cause.Error())
	c.end()
}
