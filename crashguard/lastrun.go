package crashguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// LastRun is what Guard.LastRun knows of the run of this program that
// started before this one.
type LastRun struct {
	// Known is false when this directory holds no record of an earlier
	// run: the first start, a wiped directory, or earlier runs that neither
	// crashed nor were recorded (see Guard.LastRun).
	Known bool
	// RunID names the previous run; run ids sort by start time.
	RunID string
	// Crashed is true when the previous run crashed, whether its report
	// is still in the outbox, was folded into its crash loop's count, or
	// was delivered already (by Install's background pass, Flush, the
	// monitor or the crashguard command).
	Crashed bool
	// Report describes its crash when Crashed (Attempts and LastError are
	// not kept: see Pending for reports still on disk).
	Report *Report
}

// Files beside runs/ and outbox/ in the Guard's directory.
const (
	// lastStartFile holds the id of the last run whose start was recorded.
	lastStartFile = "last_start.json"
	// crashLogFile holds the newest crashes that became reports.
	crashLogFile = "crash_log.json"
	// crashLogMessageMax caps a crash's message in crash_log.json (the
	// report itself keeps it whole): 16 entries stay far below
	// maxStateFile.
	crashLogMessageMax = 1 << 10
	// crashLogLock serializes writers of crash_log.json across processes.
	crashLogLock = "crash_log.lock"
	// crashLogMax is how many crashes crash_log.json keeps, newest last:
	// enough for the previous run's to survive a crash loop of other
	// programs sharing the directory while this one starts.
	crashLogMax = 16
	// lastRunCollectTimeout bounds LastRun's local collection pass.
	lastRunCollectTimeout = 10 * time.Second
)

// LastRun says whether the run of this program that started before this
// one crashed, and gives its report: what sentry-native's
// sentry_get_crashed_last_run answers, for a program that wants to react
// at start (offer a safe mode, tell the user, skip a cache). It is
// computed on the first call and the same answer returned after.
//
// How it knows: every crash that becomes a report (whoever collects it:
// Install's background pass, Flush, Pending, the monitor, the crashguard
// command) is noted in crash_log.json in the directory before it can be
// delivered, and every start is noted in last_start.json. sentry-native
// keeps one crash marker until sentry_clear_crashed_last_run; crashguard
// knows the runs themselves, so no clearing is needed: the previous run
// is the one that started last before this one (run ids sort by start)
// among the recorded starts and the crashed runs, and it crashed when its
// crash is in the log. A run that crashed and was never recorded as
// started is still found through its crash.
//
// The first call collects the dead runs of the directory (local work, no
// network, at most 10 s; it waits for Install's background pass to finish
// collecting, not delivering), so a crash of the previous run is known
// even when no monitor delivered it and the background pass has not got
// to it.
//
// Limits: every Install records its start in the background, so a start
// that died within its first milliseconds may not be recorded (the run
// before it is taken instead); two instances running at once each have
// the other as previous run once it started first; a crash whose run file
// was damaged (quarantined) makes no report and is not seen. The error
// says what could not be read or written; the LastRun returned is the
// best answer from what could.
func (g *Guard) LastRun() (LastRun, error) {
	if g == nil || g.disabled || g.s.dir == "" {
		return LastRun{}, nil
	}
	st := lastRunStateOf(g)
	st.once.Do(func() { st.val, st.err = g.lastRun() })
	return st.val, st.err
}

type lastRunState struct {
	once sync.Once
	val  LastRun
	err  error
	// start: this run's start noted, and the record it replaced.
	start    sync.Once
	prev     *lastStart
	startErr error
}

func lastRunStateOf(g *Guard) *lastRunState { return &g.lastRunState }

// noteStart records this run's start in last_start.json, once, keeping
// the record it replaces for LastRun. Install calls it off its own path,
// and LastRun before it answers.
// A Guard that captures nothing (Open) records nothing.
func (g *Guard) noteStart() (prev *lastStart, err error) {
	if g == nil || g.disabled || g.s.dir == "" {
		return nil, nil
	}
	st := lastRunStateOf(g)
	st.start.Do(func() {
		st.prev, st.startErr = readLastStart(g.s.dir)
		if self := g.RunID(); self != "" && (st.prev == nil || st.prev.RunID < self) {
			st.startErr = errors.Join(st.startErr, writeJSONFile(g.s.dir, lastStartFile, lastStart{RunID: self}))
		}
	})
	return st.prev, st.startErr
}

func (g *Guard) lastRun() (LastRun, error) {
	var errs []error
	dir := g.s.dir
	self := g.RunID()
	prev, err := g.noteStart()
	errs = append(errs, err)
	if g.collector != nil {
		ctx, cancel := context.WithTimeout(context.Background(), lastRunCollectTimeout)
		errs = append(errs, g.collect(ctx, true))
		cancel()
	}
	crashes, err := readCrashLog(dir)
	errs = append(errs, err)
	return previousRun(self, prev, crashes), errors.Join(errs...)
}

// previousRun picks the run that started last before self (every run
// when self is "", a Guard from Open) among the recorded start and the
// crashed runs.
func previousRun(self string, prev *lastStart, crashes []crashEntry) LastRun {
	before := func(id string) bool { return id != "" && (self == "" || id < self) }
	var out LastRun
	if prev != nil && prev.RunID != self && before(prev.RunID) {
		out = LastRun{Known: true, RunID: prev.RunID}
	}
	for _, c := range crashes {
		if !before(c.RunID) || c.RunID < out.RunID {
			continue
		}
		rep := c.Report
		out = LastRun{Known: true, RunID: c.RunID, Crashed: true, Report: &rep}
	}
	return out
}

// lastStart is last_start.json.
type lastStart struct {
	RunID string `json:"run_id"`
}

// crashEntry is one crash of crash_log.json.
type crashEntry struct {
	RunID  string `json:"run_id"`
	Report Report `json:"report"`
}

func readLastStart(dir string) (*lastStart, error) {
	var ls lastStart
	ok, err := readJSONFile(dir, lastStartFile, &ls)
	if !ok || !runfile.ValidID(ls.RunID) {
		return nil, err
	}
	return &ls, nil
}

func readCrashLog(dir string) ([]crashEntry, error) {
	var log struct {
		Crashes []crashEntry `json:"crashes"`
	}
	_, err := readJSONFile(dir, crashLogFile, &log)
	return log.Crashes, err
}

// crashLogMu serializes this process's writers of crash_log.json; other
// processes are kept apart by crashLogLock's flock.
var crashLogMu sync.Mutex

// noteCrash adds r's crash to dir's crash_log.json, keeping the newest
// crashLogMax, unless it is there already. The file is replaced whole
// (temp file, rename): a reader never sees half of it. Writers in other
// processes wait for crashLogLock; where it cannot be had (no flock, a
// holder stopped for 2 s) the note is checked after the rename and made
// again, three times at most.
func noteCrash(dir string, r *report.Report) error {
	if r == nil || !runfile.ValidID(r.RunID) {
		return nil
	}
	crashLogMu.Lock()
	defer crashLogMu.Unlock()
	// Other processes (a monitor, a start) may note at the same moment:
	// without the lock each could replace the other's file and lose its
	// note. Bounded: a holder that stopped costs this note's retries, not
	// a hang.
	if unlock := lockFileIn(dir, crashLogLock, 2*time.Second); unlock != nil {
		defer unlock()
	}
	e := crashEntry{RunID: r.RunID, Report: summarize(r)}
	// A panic value's text has no bound: sixteen long ones would pass the
	// file's read cap and LastRun would see a damaged log.
	e.Report.Message = cutMessage(e.Report.Message, crashLogMessageMax)
	var err error
	for try := 0; try < 3; try++ {
		var crashes []crashEntry
		crashes, err = readCrashLog(dir)
		for _, c := range crashes {
			if c.RunID == e.RunID {
				return nil
			}
		}
		crashes = append(crashes, e)
		if n := len(crashes) - crashLogMax; n > 0 {
			crashes = crashes[n:]
		}
		if err = writeJSONFile(dir, crashLogFile, map[string]any{"crashes": crashes}); err != nil {
			return err
		}
	}
	return err
}

// Put stores r in the outbox and, once it is kept there or counted into
// its crash loop, notes the crash for LastRun (noteCrash). It shadows
// outbox.Outbox.Put for every writer of the Guard's outbox: the collector
// of each pass and adoption from other directories.
func (o *outboxStore) Put(r *report.Report) error {
	err := o.Outbox.Put(r)
	if err == nil || errors.Is(err, outbox.ErrFolded) {
		// A note that cannot be written costs LastRun its answer, never
		// the report.
		_ = noteCrash(filepath.Dir(o.Dir()), r)
	}
	return err
}

// maxStateFile caps what is read of LastRun's small files.
const maxStateFile = 64 << 10

// writeJSONFile replaces dir/name with v's JSON (0600) through a temp file
// of one fixed name (name+".tmp") created with O_EXCL, then a rename, so
// that a reader sees the old record or the new one, never half of one,
// even when the process ends mid-write (Install notes its start in the
// background, and a program may exit right after Install). O_EXCL never
// follows a link planted at the temp name (Dir may be group-writable); a
// temp file left by a process that died is removed and the write tried
// once more, so nothing accumulates; a rename replaces a link at name, it
// does not follow it.
func writeJSONFile(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		_ = os.Remove(tmp) // removes a link itself, never its target
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("crashguard: last run: %w", err)
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("crashguard: last run: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("crashguard: last run: %w", err)
	}
	return nil
}

// readJSONFile reads dir/name into v. A missing file is no error (ok
// false); a damaged one (a power loss, another writer's garbage) is
// treated as missing and said in the error. Only a regular file is read,
// at most maxStateFile bytes, without waiting on a FIFO: Dir may be
// group-writable, and what is planted there must not hang or flood this.
func readJSONFile(dir, name string, v any) (ok bool, err error) {
	path := filepath.Join(dir, name)
	if fi, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("crashguard: last run: %w", err)
	} else if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("crashguard: last run: %s is not a regular file", name)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, fmt.Errorf("crashguard: last run: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, fmt.Errorf("crashguard: last run: %s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return false, fmt.Errorf("crashguard: last run: %w", err)
	}
	if len(b) > maxStateFile {
		return false, fmt.Errorf("crashguard: last run: %s is too large", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("crashguard: last run: %s: %w", name, err)
	}
	return true, nil
}

// cutMessage cuts s to at most max bytes at a rune boundary, ending in "…"
// when cut.
func cutMessage(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
