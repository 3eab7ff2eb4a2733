package outbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Crash-loop folding. A service that crashes at every start (restarted by
// systemd or Kubernetes thousands of times) makes the same report over and
// over. Within a window (Options.LoopWindow) the first Options.LoopFull
// reports of a fingerprint are kept in full; Put folds each further one into
// a count instead of writing it (ErrFolded). The count is carried by the
// next report of that fingerprint that is sent (TakeFolded): the first one
// kept in full once the window is over, or one still pending from the
// window. Its event then says how many crashes it stands for. No crash is
// ever counted twice: the count is taken before the send and given back
// (ReturnFolded) only when the send fails.
const (
	// DefaultLoopWindow is the folding window: an hour, the scale of a
	// restart loop's backoff (systemd's default restart rate limit is 5
	// starts in 10 s; Kubernetes' CrashLoopBackOff grows to 5 minutes), so
	// a service crash-looping for a day sends about 24 × (LoopFull + 1)
	// events, each saying how many it stands for.
	DefaultLoopWindow = time.Hour
	// DefaultLoopFull is how many reports of one fingerprint are kept in
	// full per window: enough to see that the crash repeats and whether it
	// varies (different goroutines, another message), not a flood.
	DefaultLoopFull = 3
	// maxFingerprints bounds the crash-loop file: the fingerprints seen
	// least recently, with nothing left to carry, go first.
	maxFingerprints = 256
	// stateLockWait bounds the wait for the crash-loop file's lock. Holders
	// only read and rewrite a small file; past this, the caller does
	// without (a report is kept in full rather than lost).
	stateLockWait = 2 * time.Second
)

// Names of the crash-loop file and its lock.
const (
	loopName     = "crashloop.json"
	loopLockName = "crashloop.lock"
)

// ErrFolded is returned by Put for a report folded into its fingerprint's
// count instead of being written (see the crash-loop rule above). The crash
// is accounted for: the caller may remove what it made the report from.
var ErrFolded = errors.New("outbox: report folded into its crash loop's count")

// errBusyLock: another holder has the crash-loop lock.
var errBusyLock = errors.New("outbox: lock busy")

// loopFile is the JSON form of D/crashloop.json.
type loopFile struct {
	Fingerprints map[string]*loopEntry `json:"fingerprints,omitempty"`
	// Dropped counts reports removed unsent by the caps (Prune) that no
	// sent event has reported yet.
	Dropped int `json:"dropped,omitempty"`
}

// loopEntry is the crash-loop state of one fingerprint.
type loopEntry struct {
	// WindowStart is when the current window began: at the first report
	// of the fingerprint after the previous window ended.
	WindowStart time.Time `json:"window_start"`
	// Full counts the reports kept in full in the current window.
	Full int `json:"full"`
	// Folded counts the reports folded and not yet carried by a sent event.
	Folded int `json:"folded,omitempty"`
	// Last is when a report of the fingerprint was last seen.
	Last time.Time `json:"last"`
	// Seen are the event ids admitted most recently (at most maxSeen) and
	// whether each was folded: a run collected again, because the process
	// that collected it died between admitting its report and removing the
	// run, gets the same decision without being counted twice.
	Seen []seenID `json:"seen,omitempty"`
}

// seenID is one admitted report's event id and the decision made for it.
type seenID struct {
	ID     string `json:"id"`
	Folded bool   `json:"folded,omitempty"`
}

// maxSeen bounds loopEntry.Seen: re-collection happens within a pass or
// two of the first, long before 16 newer reports of the same crash.
const maxSeen = 16

// Fingerprint identifies a crash for crash-loop folding: its kind, the
// release, and the top (at most 5) in-app frames of the crashed goroutine
// (its top frames when none is in-app, the native frames when there is no
// Go stack). The message is left out: it often holds addresses or values
// that differ from one crash of a loop to the next. It is 32 hex digits.
func Fingerprint(r *report.Report) string {
	h := sha256.New()
	add := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	add(string(r.Kind))
	release := r.Process.Release
	if release == "" && r.Process.Build != nil {
		release = r.Process.Build.VCSRevision
	}
	add(release)
	for _, f := range topFrames(r, 5) {
		add(f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// topFrames returns the function names Fingerprint uses.
func topFrames(r *report.Report, n int) []string {
	var frames []report.Frame
	for i := range r.Goroutines {
		g := &r.Goroutines[i]
		if g.Crashed || (r.CrashedGoroutine != 0 && g.ID == r.CrashedGoroutine) {
			frames = g.Frames
			break
		}
	}
	if frames == nil && len(r.Goroutines) > 0 {
		frames = r.Goroutines[0].Frames
	}
	if len(frames) == 0 && r.Native != nil {
		frames = r.Native.Frames
	}
	var inApp, all []string
	for _, f := range frames {
		name := f.Function
		if name == "" {
			// An unsymbolized native frame: its image and offset in it
			// are stable across runs where the address is not.
			name = fmt.Sprintf("%s+%#x", filepath.Base(f.Image), f.Offset)
		}
		if f.InApp && len(inApp) < n {
			inApp = append(inApp, name)
		}
		if len(all) < n {
			all = append(all, name)
		}
	}
	if len(inApp) > 0 {
		return inApp
	}
	return all
}

// admit applies the crash-loop rule to r at Put: it returns ErrFolded when r
// is folded, else nil and an undo that takes the admission back (for a
// write that then fails). When the crash-loop file cannot be used, r is
// kept in full.
func (o *Outbox) admit(r *report.Report) (undo func(), err error) {
	noop := func() {}
	if o.loopWindow <= 0 {
		return noop, nil
	}
	fp := Fingerprint(r)
	folded, again := false, false
	err = o.updateLoops(func(lf *loopFile, now time.Time) bool {
		e := lf.Fingerprints[fp]
		if e == nil || now.Sub(e.WindowStart) >= o.loopWindow || now.Before(e.WindowStart) {
			carry := 0
			if e != nil {
				carry = e.Folded
			}
			e = &loopEntry{WindowStart: now, Folded: carry}
			lf.Fingerprints[fp] = e
		}
		e.Last = now
		for _, sid := range e.Seen {
			if sid.ID == r.EventID {
				folded, again = sid.Folded, true
				return false // decided before: nothing to count
			}
		}
		if e.Full >= o.loopFull {
			e.Folded++
			folded = true
		} else {
			e.Full++
		}
		e.Seen = append(e.Seen, seenID{ID: r.EventID, Folded: folded})
		if len(e.Seen) > maxSeen {
			e.Seen = e.Seen[len(e.Seen)-maxSeen:]
		}
		return true
	})
	if err != nil {
		o.log.Warn("outbox: crash-loop state unusable; report kept in full", "event_id", r.EventID, "err", err)
		return noop, nil
	}
	if folded {
		o.log.Info("outbox: report folded into its crash loop's count", "event_id", r.EventID, "fingerprint", fp)
		return noop, ErrFolded
	}
	if again {
		return noop, nil // admitted in full before: write it, count nothing
	}
	return func() {
		_ = o.updateLoops(func(lf *loopFile, _ time.Time) bool {
			e := lf.Fingerprints[fp]
			if e == nil || e.Full == 0 {
				return false
			}
			e.Full--
			for i, sid := range e.Seen {
				if sid.ID == r.EventID {
					e.Seen = append(e.Seen[:i], e.Seen[i+1:]...)
					break
				}
			}
			return true
		})
	}, nil
}

// Carried is what an event carries for the reports it stands for besides
// its own (TakeFolded).
type Carried struct {
	// Fingerprint is the report's crash-loop fingerprint.
	Fingerprint string
	// Folded counts the reports of the same fingerprint folded by the
	// crash-loop rule since the last event of that fingerprint was sent.
	Folded int
	// Dropped counts reports of any kind that the caps removed unsent
	// since the last event was sent.
	Dropped int
}

// TakeFolded takes the counts the event of r carries: the folded reports
// of its fingerprint and the reports dropped by the caps. They are taken
// out of the crash-loop file now, so that two senders never both carry
// them; give them back with ReturnFolded when the event is not delivered.
// On error nothing is taken and the zero Carried is returned.
func (o *Outbox) TakeFolded(r *report.Report) (Carried, error) {
	c := Carried{Fingerprint: Fingerprint(r)}
	err := o.updateLoops(func(lf *loopFile, _ time.Time) bool {
		if e := lf.Fingerprints[c.Fingerprint]; e != nil {
			c.Folded, e.Folded = e.Folded, 0
		}
		c.Dropped, lf.Dropped = lf.Dropped, 0
		return c.Folded > 0 || c.Dropped > 0
	})
	if err != nil {
		return Carried{Fingerprint: c.Fingerprint}, err
	}
	return c, nil
}

// ReturnFolded gives back counts taken by TakeFolded whose event was not
// delivered, for the next event to carry.
func (o *Outbox) ReturnFolded(c Carried) error {
	if c.Folded == 0 && c.Dropped == 0 {
		return nil
	}
	return o.updateLoops(func(lf *loopFile, now time.Time) bool {
		if c.Folded > 0 {
			e := lf.Fingerprints[c.Fingerprint]
			if e == nil {
				// Its window ended and was forgotten meanwhile.
				e = &loopEntry{WindowStart: now, Last: now}
				lf.Fingerprints[c.Fingerprint] = e
			}
			e.Folded += c.Folded
		}
		lf.Dropped += c.Dropped
		return true
	})
}

// countDropped records n reports removed unsent by the caps.
func (o *Outbox) countDropped(n int) {
	if n <= 0 {
		return
	}
	err := o.updateLoops(func(lf *loopFile, _ time.Time) bool {
		lf.Dropped += n
		return true
	})
	if err != nil {
		o.log.Warn("outbox: cannot count reports removed by the caps", "removed", n, "err", err)
	}
}

// updateLoops runs f on the crash-loop file under its cross-process lock,
// and writes the file back when f returns true. Entries whose window is
// over with nothing left to carry are forgotten; beyond maxFingerprints the
// least recently seen go first.
func (o *Outbox) updateLoops(f func(lf *loopFile, now time.Time) bool) error {
	unlock, err := o.lockLoops()
	if err != nil {
		return err
	}
	defer unlock()
	lf := o.readLoops()
	now := o.now()
	changed := f(lf, now)
	for fp, e := range lf.Fingerprints {
		if e.Folded == 0 && (now.Sub(e.WindowStart) >= o.loopWindow || e.WindowStart.Sub(now) > MaxDelay) {
			delete(lf.Fingerprints, fp)
			changed = true
		}
	}
	if len(lf.Fingerprints) > maxFingerprints {
		fps := make([]string, 0, len(lf.Fingerprints))
		for fp := range lf.Fingerprints {
			fps = append(fps, fp)
		}
		sort.Slice(fps, func(i, j int) bool { return lf.Fingerprints[fps[i]].Last.Before(lf.Fingerprints[fps[j]].Last) })
		for _, fp := range fps[:len(fps)-maxFingerprints] {
			if e := lf.Fingerprints[fp]; e.Folded > 0 {
				o.log.Warn("outbox: crash-loop count forgotten (too many fingerprints)", "fingerprint", fp, "folded", e.Folded)
			}
			delete(lf.Fingerprints, fp)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	data, err := json.Marshal(lf)
	if err != nil {
		return err
	}
	_, err = o.writeAtomic(filepath.Join(o.dir, loopName), data, true)
	return err
}

// readLoops reads the crash-loop file; a missing one is empty, a broken
// one is quarantined and starts again empty.
func (o *Outbox) readLoops() *loopFile {
	lf := &loopFile{}
	data, err := readSmall(filepath.Join(o.dir, loopName))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, lf); err != nil {
			_ = o.quarantineName(loopName, "parse crash-loop state: "+err.Error(), "")
			lf = &loopFile{}
		}
	case isBroken(err):
		_ = o.quarantineName(loopName, err.Error(), "")
	case !isNotExist(err):
		o.log.Warn("outbox: read crash-loop state", "err", err)
	}
	if lf.Fingerprints == nil {
		lf.Fingerprints = map[string]*loopEntry{}
	}
	for fp, e := range lf.Fingerprints {
		if e == nil || !validID(fp) || e.Folded < 0 || e.Full < 0 {
			delete(lf.Fingerprints, fp)
		}
	}
	lf.Dropped = max(lf.Dropped, 0)
	return lf
}

// lockLoops takes the crash-loop file's lock (D/crashloop.lock), waiting
// at most stateLockWait.
func (o *Outbox) lockLoops() (unlock func(), err error) {
	o.loopMu.Lock()
	f, err := os.OpenFile(filepath.Join(o.dir, loopLockName), openLockFlags, 0o600)
	if err != nil {
		o.loopMu.Unlock()
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		o.loopMu.Unlock()
		return nil, fmt.Errorf("outbox: %s: %w", loopLockName, errNotRegular)
	}
	deadline := time.Now().Add(stateLockWait)
	for {
		err = tryLockFile(f)
		if err == nil {
			return func() { f.Close(); o.loopMu.Unlock() }, nil
		}
		if !errors.Is(err, errBusyLock) || time.Now().After(deadline) {
			f.Close()
			o.loopMu.Unlock()
			return nil, fmt.Errorf("outbox: lock crash-loop state: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
}
