// Package outbox is the durable spool of crash reports: a report is written
// here by the collector and stays until Sentry has accepted it (2xx).
//
// Layout under the outbox directory D (0700, files 0600):
//
//	D/<event_id>.json    one report.Report as JSON
//	D/<event_id>.state   optional delivery state (attempts, last error, next attempt)
//	D/ratelimit.json     Sentry rate limits: category -> until
//	D/crashloop.json     crash-loop folding per fingerprint, and the count of
//	                     reports removed by the caps (crashloop.lock: its lock)
//	D/.tmp-*             files being written; never listed, removed after an hour
//	D/quarantine/        files that cannot be read or that Sentry rejected for
//	                     good, each with a sibling <name>.reason text file
//
// Every file is written to a temp name in D, fsynced, renamed into place and
// the directory fsynced, so a reader sees a whole file or none. Files are
// opened without following symbolic links and read with a size cap. A file
// that cannot be used is moved to quarantine/ and logged; it never makes List,
// Claim or the caller fail for the other reports.
//
// Invariant: a report file is removed or moved only by the holder of its
// claim lock (see Claim). That is what lets Claim prove, after taking the
// lock, that the file it locked is still the one at the path.
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/safedir"
)

// MaxReportSize is the largest report file the outbox reads or writes. Put
// refuses bigger reports; a bigger file found on disk is quarantined. The cap
// keeps a damaged or hostile file from exhausting memory at Install.
const MaxReportSize = 16 << 20

// Defaults for Options.
const (
	// DefaultBackoffBase is the delay after the first failed attempt.
	DefaultBackoffBase = time.Minute
	// DefaultBackoffCap is the longest delay exponential backoff reaches.
	DefaultBackoffCap = 6 * time.Hour
	// DefaultQuarantineKeep is how many quarantined files are kept.
	DefaultQuarantineKeep = 100
)

// MaxDelay bounds every delay the outbox stores (retry times and rate
// limits). A stored time further than MaxDelay in the future can only come
// from a clock that has since gone back, and is treated as already passed, so
// a wrong clock never parks a report for months.
const MaxDelay = 24 * time.Hour

// staleTempAge is how old a temp file must be before List removes it. A
// writer finishes in well under a second; an hour leaves room for a stalled
// disk and still cleans up after a writer that died mid-write.
const staleTempAge = time.Hour

// maxSmallFile caps state and rate-limit files, which are a few hundred bytes.
const maxSmallFile = 64 << 10

// Names inside the outbox directory.
const (
	reportExt     = ".json"
	stateExt      = ".state"
	tempPrefix    = ".tmp-"
	rateLimitName = "ratelimit.json"
	quarantineDir = "quarantine"
	reasonExt     = ".reason"
	idLen         = 32
)

// Errors returned by the outbox. They are wrapped with context; test with
// errors.Is.
var (
	// ErrCorrupt means a report file could not be used (unreadable JSON,
	// unknown format_version, wrong event_id, not a regular file). The file
	// has been moved to quarantine/ unless another process held its claim.
	ErrCorrupt = errors.New("outbox: corrupt report")
	// ErrTooLarge means a report is bigger than MaxReportSize. From Load and
	// Claim it comes together with ErrCorrupt (the file was quarantined); from
	// Put alone (nothing was written).
	ErrTooLarge = errors.New("outbox: report too large")
	// ErrBusy means another claim (in this or another process) holds the report.
	ErrBusy = errors.New("outbox: report claimed by another holder")
	// ErrGone means the report is no longer in the outbox: delivered,
	// quarantined or replaced by someone else.
	ErrGone = errors.New("outbox: report gone")
	// ErrInvalid means an argument is unusable: an id that is not 32 lowercase
	// hex digits, or a report Put cannot store.
	ErrInvalid = errors.New("outbox: invalid argument")
	// ErrUnsafeDir means the outbox directory is a symbolic link, not a
	// directory, or (on unix) owned by another user or writable by group or
	// others. The error also matches the safedir sentinel saying which.
	ErrUnsafeDir = errors.New("outbox: unsafe directory")
	// ErrClaimEnded means a Claim method was called after the claim ended.
	ErrClaimEnded = errors.New("outbox: claim already ended")
)

// errNotRegular marks a path that is a symbolic link, directory, FIFO or
// other non-regular file where a regular file was expected.
var errNotRegular = errors.New("not a regular file")

// Options configure an Outbox. The zero value is ready to use.
type Options struct {
	// Logger receives quarantine and clean-up notices; nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// BackoffBase and BackoffCap shape the retry delay after a failed
	// attempt n: BackoffBase * 2^(n-1), at most BackoffCap, less up to 20%
	// jitter. Zero means DefaultBackoffBase / DefaultBackoffCap; BackoffCap
	// is itself capped at MaxDelay.
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// Rand returns the jitter fraction in [0, 1); nil means math/rand/v2.
	// Jitter spreads the retries of many hosts that failed at the same time.
	Rand func() float64
	// QuarantineKeep is how many quarantined files are kept (newest first);
	// 0 means DefaultQuarantineKeep, negative means keep all.
	QuarantineKeep int
	// QuarantineMaxBytes caps the quarantined files' total size (newest
	// kept); 0 means DefaultQuarantineMaxBytes, negative means no cap.
	QuarantineMaxBytes int64

	// Caps on the pending reports (see Prune): at most MaxReports, at most
	// MaxBytes in all, none older than MaxAge (which applies to the
	// quarantine too). 0 means DefaultMaxReports, DefaultMaxBytes,
	// DefaultMaxAge; negative means no cap.
	MaxReports int
	MaxBytes   int64
	MaxAge     time.Duration

	// Crash-loop folding (see ErrFolded): per fingerprint, the first
	// LoopFull reports of each LoopWindow are kept in full, the rest are
	// counted. 0 means DefaultLoopWindow and DefaultLoopFull; a negative
	// LoopWindow turns folding off.
	LoopWindow time.Duration
	LoopFull   int
}

// Outbox is an open outbox directory. Its methods are safe for concurrent
// use, and several processes may use the same directory at once.
type Outbox struct {
	dir  string
	qdir string
	log  *slog.Logger
	now  func() time.Time
	base time.Duration
	cap  time.Duration
	rand func() float64
	keep int

	qMaxBytes  int64
	maxReports int
	maxBytes   int64
	maxAge     time.Duration
	loopWindow time.Duration
	loopFull   int

	// loopMu serializes this process's updates of the crash-loop file
	// (its file lock serializes processes).
	loopMu sync.Mutex
	// rlMu serializes this process's read-modify-write of ratelimit.json.
	rlMu sync.Mutex
	// qMu serializes this process's quarantine moves and pruning.
	qMu sync.Mutex
}

// Entry is one pending report found by List.
type Entry struct {
	// ID is the report's event id (the file name without ".json").
	ID string
	// Path is the report file.
	Path string
	// Size is the file size in bytes.
	Size int64
	// ModTime is when the report was written.
	ModTime time.Time
	// State is the delivery state; the zero State if none was recorded.
	State State
}

// Open opens the outbox at dir, creating it (and its quarantine/) with mode
// 0700 if needed and narrowing a wider mode to 0700.
func Open(dir string, opts Options) (*Outbox, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty outbox directory", ErrInvalid)
	}
	o := &Outbox{
		dir:  filepath.Clean(dir),
		log:  opts.Logger,
		now:  opts.Now,
		base: opts.BackoffBase,
		cap:  opts.BackoffCap,
		rand: opts.Rand,
		keep: opts.QuarantineKeep,
	}
	o.qdir = filepath.Join(o.dir, quarantineDir)
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.base <= 0 {
		o.base = DefaultBackoffBase
	}
	if o.cap <= 0 {
		o.cap = DefaultBackoffCap
	}
	o.cap = min(o.cap, MaxDelay)
	if o.rand == nil {
		o.rand = rand.Float64
	}
	if o.keep == 0 {
		o.keep = DefaultQuarantineKeep
	}
	o.qMaxBytes = orDefault(opts.QuarantineMaxBytes, DefaultQuarantineMaxBytes)
	o.maxReports = int(orDefault(int64(opts.MaxReports), DefaultMaxReports))
	o.maxBytes = orDefault(opts.MaxBytes, DefaultMaxBytes)
	o.maxAge = time.Duration(orDefault(int64(opts.MaxAge), int64(DefaultMaxAge)))
	o.loopWindow = time.Duration(orDefault(int64(opts.LoopWindow), int64(DefaultLoopWindow)))
	o.loopFull = int(orDefault(int64(opts.LoopFull), DefaultLoopFull))
	if err := ensureDir(o.dir); err != nil {
		return nil, err
	}
	if err := ensureDir(o.qdir); err != nil {
		return nil, err
	}
	return o, nil
}

// orDefault is v, or def when v is 0; a negative v (no cap) stays.
func orDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// ensureDir creates dir with mode 0700 if missing and checks that it is a
// real directory of ours (safedir.Ensure): the outbox trusts what it finds in
// it, so a planted symlink, another user's directory or one that others can
// write to must not become the outbox. A refusal matches ErrUnsafeDir and
// the safedir sentinel that says why.
func ensureDir(dir string) error {
	if err := safedir.Ensure(dir); err != nil {
		if errors.Is(err, safedir.ErrUnsafe) {
			return fmt.Errorf("%w: %w", ErrUnsafeDir, err)
		}
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Dir returns the outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// validID reports whether id is 32 lowercase hex digits, the only form of
// event id the outbox stores; anything else in a file name is ignored.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// idOf returns the id of a file name "<id><ext>", or "" if name is not one.
func idOf(name, ext string) string {
	id, ok := strings.CutSuffix(name, ext)
	if !ok || !validID(id) {
		return ""
	}
	return id
}

func (o *Outbox) reportPath(id string) string { return filepath.Join(o.dir, id+reportExt) }
func (o *Outbox) statePath(id string) string  { return filepath.Join(o.dir, id+stateExt) }

// Put stores r atomically. If a report with the same event id is already in
// the outbox, Put leaves it as it is and returns nil, so collecting the same
// run twice does not send the crash twice. A report bigger than MaxReportSize
// is refused with ErrTooLarge and nothing is written. A report that the
// crash-loop rule folds is not written either: Put counts it and returns an
// error matching ErrFolded. After writing, Put applies the caps (Prune).
func (o *Outbox) Put(r *report.Report) error {
	if r == nil {
		return fmt.Errorf("%w: nil report", ErrInvalid)
	}
	if r.FormatVersion != report.FormatVersion {
		return fmt.Errorf("%w: format_version %d, want %d", ErrInvalid, r.FormatVersion, report.FormatVersion)
	}
	if !validID(r.EventID) {
		return fmt.Errorf("%w: event_id %q is not 32 lowercase hex digits", ErrInvalid, r.EventID)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: encode report %s: %w", r.EventID, err)
	}
	if len(data) > MaxReportSize {
		return fmt.Errorf("outbox: put %s: %d bytes: %w", r.EventID, len(data), ErrTooLarge)
	}
	path := o.reportPath(r.EventID)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		return nil // already stored; skip writing and fsyncing it again
	}
	undo, err := o.admit(r)
	if err != nil {
		return fmt.Errorf("outbox: put %s: %w", r.EventID, err)
	}
	for range 2 {
		existed, err := o.writeAtomic(path, data, false)
		if err != nil {
			undo()
			return fmt.Errorf("outbox: put %s: %w", r.EventID, err)
		}
		if !existed {
			if _, err := o.Prune(); err != nil {
				o.log.Warn("outbox: apply caps", "err", err)
			}
			return nil
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().IsRegular() {
			// A regular file is a report with this id: keep it. If it
			// vanished meanwhile it was delivered, which is just as good.
			return nil
		}
		// Something that is not a report squats the name (a symlink, a
		// directory): move it aside and write the report.
		if err := o.quarantineName(filepath.Base(path), notRegular(fi.Mode()).Error()+" at a report name", ""); err != nil {
			return fmt.Errorf("outbox: put %s: %w", r.EventID, err)
		}
	}
	return fmt.Errorf("outbox: put %s: name still taken by a non-regular file", r.EventID)
}

// List returns the pending reports, oldest first. It does not parse them
// (Load and Claim do); it quarantines what it can tell is broken from the
// directory alone (non-regular files, files over MaxReportSize), removes temp
// files older than an hour and state files whose report is gone, and ignores
// names that are not "<32 hex>.json". It fails only when the directory itself
// cannot be read.
func (o *Outbox) List() ([]Entry, error) {
	des, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: list %s: %w", o.dir, err)
	}
	now := o.now()
	var (
		out     []Entry
		reports = map[string]bool{}
		strays  []string // sidecars (state, windows lock) to check for orphans
	)
	for _, de := range des {
		name := de.Name()
		switch id := idOf(name, reportExt); {
		case strings.HasPrefix(name, tempPrefix):
			o.removeStaleTemp(name, now)
		case id != "":
			reports[id] = true
			if e, ok := o.entry(id, de); ok {
				out = append(out, e)
			}
		case idOf(name, stateExt) != "" || (lockExt != "" && idOf(name, lockExt) != ""):
			strays = append(strays, name)
		}
	}
	for _, name := range strays {
		o.removeOrphan(name, reports)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ModTime.Equal(out[j].ModTime) {
			return out[i].ModTime.Before(out[j].ModTime)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// entry builds the Entry for D/<id>.json, quarantining it if it is unusable.
func (o *Outbox) entry(id string, de fs.DirEntry) (Entry, bool) {
	name := de.Name()
	fi, err := de.Info() // lstat: a symlink shows as a symlink
	if err != nil {
		if !isNotExist(err) {
			o.log.Warn("outbox: stat report", "file", name, "err", err)
		}
		return Entry{}, false
	}
	if !fi.Mode().IsRegular() {
		// Never opened, so never followed: rename moves the link itself.
		_ = o.quarantineName(name, notRegular(fi.Mode()).Error(), "")
		return Entry{}, false
	}
	if fi.Size() > MaxReportSize {
		o.rejectReport(id, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, fi.Size(), MaxReportSize))
		return Entry{}, false
	}
	st, err := o.readState(id)
	if err != nil {
		// Only the claim holder may move a state file; Claim will
		// quarantine it. Listing it as never tried is harmless.
		o.log.Warn("outbox: unreadable state, treating as new", "file", id+stateExt, "err", err)
	}
	return Entry{ID: id, Path: filepath.Join(o.dir, name), Size: fi.Size(), ModTime: fi.ModTime(), State: st}, true
}

// removeStaleTemp removes a temp file left by a writer that died; a younger
// one may belong to a writer still at work.
func (o *Outbox) removeStaleTemp(name string, now time.Time) {
	path := filepath.Join(o.dir, name)
	fi, err := os.Lstat(path)
	if err != nil || now.Sub(fi.ModTime()) < staleTempAge {
		return
	}
	if err := os.Remove(path); err != nil && !isNotExist(err) {
		o.log.Warn("outbox: remove stale temp file", "file", name, "err", err)
		return
	}
	o.log.Info("outbox: removed stale temp file", "file", name, "modtime", fi.ModTime())
}

// removeOrphan removes a sidecar (state or windows lock file) whose report is
// gone, e.g. when a process died between removing a report and its state.
func (o *Outbox) removeOrphan(name string, reports map[string]bool) {
	id := name[:idLen]
	if reports[id] {
		return
	}
	// The report may have been Put after ReadDir: look again.
	if _, err := os.Lstat(o.reportPath(id)); !isNotExist(err) {
		return
	}
	if err := os.Remove(filepath.Join(o.dir, name)); err == nil {
		o.log.Info("outbox: removed orphan sidecar", "file", name)
	}
}

// Load reads and validates the report id without claiming it. A report that
// cannot be used is quarantined and Load returns an error matching
// ErrCorrupt (and ErrTooLarge if that was why); a missing one gives ErrGone.
func (o *Outbox) Load(id string) (*report.Report, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: report id %q", ErrInvalid, id)
	}
	f, fi, err := o.openReport(id)
	if err != nil {
		return nil, fmt.Errorf("outbox: load %s: %w", id, err)
	}
	r, err := readReport(id, f, fi)
	f.Close()
	if errors.Is(err, ErrCorrupt) {
		o.rejectReport(id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: load %s: %w", id, err)
	}
	return r, nil
}

// openReport opens D/<id>.json for reading without following a link. A
// non-regular file is quarantined at once (it cannot be claimed, so moving
// it cannot disturb a holder) and reported as ErrCorrupt.
func (o *Outbox) openReport(id string) (*os.File, fs.FileInfo, error) {
	path := o.reportPath(id)
	f, err := openNoFollow(path)
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && fi.Mode().IsRegular() {
			return f, fi, nil
		}
		f.Close()
		if err == nil {
			err = notRegular(fi.Mode())
		}
	}
	switch {
	case isNotExist(err):
		return nil, nil, ErrGone
	case errors.Is(err, errNotRegular):
		_ = o.quarantineName(id+reportExt, err.Error(), "")
		return nil, nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil, nil, err
}

// readReport reads and validates an open report file. Every error that says
// the bytes are unusable matches ErrCorrupt; I/O errors do not, so a passing
// disk problem does not send a good report to quarantine.
func readReport(id string, f *os.File, fi fs.FileInfo) (*report.Report, error) {
	if fi.Size() > MaxReportSize {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", ErrCorrupt, ErrTooLarge, fi.Size(), MaxReportSize)
	}
	data, err := readCapped(f, MaxReportSize)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	return decodeReport(id, data)
}

// decodeReport parses a report and checks that it is one this version can
// send and that it is the report its file name says.
func decodeReport(id string, data []byte) (*report.Report, error) {
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: parse JSON: %w", ErrCorrupt, err)
	}
	if r.FormatVersion != report.FormatVersion {
		return nil, fmt.Errorf("%w: unknown format_version %d (this version reads %d)", ErrCorrupt, r.FormatVersion, report.FormatVersion)
	}
	if !validID(r.EventID) {
		return nil, fmt.Errorf("%w: event_id %q is not 32 lowercase hex digits", ErrCorrupt, r.EventID)
	}
	if r.EventID != id {
		return nil, fmt.Errorf("%w: event_id %q does not match file name %s", ErrCorrupt, r.EventID, id+reportExt)
	}
	return &r, nil
}
