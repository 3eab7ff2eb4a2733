// Package sessions gives crashguard's runs to Sentry's Release Health: each
// process run is one session, started at Install and ended, after death,
// from evidence alone: crash evidence makes it "crashed", a clean end
// (return, os.Exit, a signal the program did not treat as a crash)
// "exited". "abnormal" is never sent: nothing a dead run leaves tells a
// hang or an OOM kill apart from an os.Exit, and a status is never guessed.
//
// Ended sessions are spooled, one small file per run, in sessions/ beside
// the outbox (collection writes them; Install never does), and sent in
// batches as "sessions" aggregate items, one envelope per release and
// environment, counts bucketed by the minute they started (Sentry's
// session protocol, "Session Aggregates"), so short-lived programs do not
// cost a request each and a crash loop's crashes are all counted even when
// their events are folded. Aggregates are not updates of a live session:
// each run is reported once, when it has ended, so the five-day update
// window does not apply (a crash on day six of a long-lived server still
// counts, as one session that started six days earlier).
package sessions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crashguard/crashguard-go/internal/jsonstr"
	"github.com/crashguard/crashguard-go/internal/safedir"
)

// Statuses of an ended session, as Sentry names them.
const (
	Exited  = "exited"
	Crashed = "crashed"
)

// ext names a spooled session; tmpExt one being written.
const (
	ext    = ".session"
	tmpExt = ".session-tmp"
)

// maxRecord caps what is read of one spooled session.
const maxRecord = 4 << 10

// Ended is one run's session, once the run has ended.
type Ended struct {
	// RunID names the run; it is the spool file's name.
	RunID string `json:"run_id"`
	// Started is when the run's Install ran.
	Started time.Time `json:"started"`
	// Status is Exited or Crashed.
	Status string `json:"status"`
	// Release and Environment are the run's, as its metadata says;
	// Release is required by Sentry.
	Release     string `json:"release"`
	Environment string `json:"environment,omitempty"`
	// DistinctID is the session's did: who or what the run was for.
	DistinctID string `json:"did,omitempty"`
}

// Spool is the directory of ended sessions waiting to be sent.
type Spool struct{ dir string }

// Open opens (creating it 0700 when missing) the spool in dir, which must
// be safe as crashguard's other directories are (safedir.Ensure).
func Open(dir string) (*Spool, error) {
	if err := safedir.Ensure(dir); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return &Spool{dir: dir}, nil
}

// Record spools e durably enough (write, then rename: a power cut loses at
// most the newest, never leaves half a record under a final name). A
// session without a release cannot be sent (Sentry requires one) and is
// not recorded: it returns nil.
func (s *Spool) Record(e Ended) error {
	if e.Release == "" {
		return nil
	}
	if e.Status != Exited && e.Status != Crashed {
		return fmt.Errorf("sessions: status %q", e.Status)
	}
	if e.RunID == "" || strings.ContainsAny(e.RunID, `/\`) || strings.HasPrefix(e.RunID, ".") {
		return fmt.Errorf("sessions: run id %q", e.RunID)
	}
	b := appendEnded(make([]byte, 0, 256), &e)
	tmp := filepath.Join(s.dir, e.RunID+tmpExt)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, e.RunID+ext)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sessions: %w", err)
	}
	return nil
}

// appendEnded appends e as json.Marshal would (TestAppendEndedMatchesJSON),
// without the reflective encoder, whose first use would cost Install, which
// records the session of the run it takes over, about 0.4 ms.
func appendEnded(b []byte, e *Ended) []byte {
	b = append(b, `{"run_id":`...)
	b = jsonstr.Append(b, e.RunID)
	b = append(b, `,"started":"`...)
	b = e.Started.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","status":`...)
	b = jsonstr.Append(b, e.Status)
	b = append(b, `,"release":`...)
	b = jsonstr.Append(b, e.Release)
	if e.Environment != "" {
		b = append(b, `,"environment":`...)
		b = jsonstr.Append(b, e.Environment)
	}
	if e.DistinctID != "" {
		b = append(b, `,"did":`...)
		b = jsonstr.Append(b, e.DistinctID)
	}
	return append(b, '}')
}

// entry is a spooled session and its file.
type entry struct {
	Ended
	path string
}

// list reads up to max spooled sessions. A record that cannot be read as
// one is removed: it is crashguard's own file (its exact suffix), and a
// session count is not worth a quarantine.
func (s *Spool) list(max int) ([]entry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	var out []entry
	for _, de := range des {
		if len(out) == max {
			break
		}
		name := de.Name()
		if !strings.HasSuffix(name, ext) || !de.Type().IsRegular() {
			continue
		}
		path := filepath.Join(s.dir, name)
		e, err := read(path)
		if err != nil {
			_ = os.Remove(path)
			continue
		}
		out = append(out, entry{Ended: e, path: path})
	}
	return out, nil
}

func read(path string) (Ended, error) {
	var e Ended
	f, err := openNoFollow(path)
	if err != nil {
		return e, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return e, err
	}
	if len(b) > maxRecord {
		return e, errors.New("sessions: record too large")
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, err
	}
	if e.Release == "" || (e.Status != Exited && e.Status != Crashed) || e.Started.IsZero() {
		return e, errors.New("sessions: incomplete record")
	}
	return e, nil
}

// MaxAge is how far in the past Sentry still takes a session's start
// (Relay's max_session_secs_in_past, 5 days). A run that lasted longer is
// counted as the session it was in when it ended: its start is moved to
// RestartEvery before its end, as if the session had been ended and
// started again every RestartEvery, and only the last one was counted.
const (
	MaxAge       = 5 * 24 * time.Hour
	RestartEvery = 4 * 24 * time.Hour
)

// LastStart is when the session of a run that started at start and ended
// at end began, under the RestartEvery rule.
func LastStart(start, end time.Time) time.Time {
	if d := end.Sub(start); d > RestartEvery {
		return start.Add(d / RestartEvery * RestartEvery)
	}
	return start
}
