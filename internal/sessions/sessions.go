// Package sessions gives crashguard's runs to Sentry's Release Health: each
// process run is one session, started at Install and ended, after death,
// from evidence alone: crash evidence makes it "crashed", a clean end
// (return, os.Exit, a signal the program did not treat as a crash)
// "exited". "abnormal" is never sent: nothing a dead run leaves tells a
// hang or an OOM kill apart from an os.Exit, and a status is never guessed.
//
// Ended sessions are spooled as lines appended to one log in sessions/
// beside the outbox (spool.go: one write to an existing file, so that a
// start that ends its predecessor's session pays microseconds, not a file
// creation), and sent in batches as "sessions" aggregate items, one
// envelope per release and environment, counts bucketed by the minute they
// started (Sentry's session protocol, "Session Aggregates"), so short-lived
// programs do not cost a request each and a crash loop's crashes are all
// counted even when their events are folded. Aggregates are not updates of
// a live session: each run is reported once, when it has ended, so a run
// longer than Sentry's five days counts from its last four-day boundary
// (LastStart).
package sessions

import (
	"time"

	"github.com/crashguard/crashguard-go/internal/jsonstr"
)

// Statuses of an ended session, as Sentry names them.
const (
	Exited  = "exited"
	Crashed = "crashed"
)

// maxRecord caps what is read of one spooled session.
const maxRecord = 4 << 10

// Ended is one run's session, once the run has ended.
type Ended struct {
	// RunID names the run: a run spooled twice is sent once per pass.
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
	// Recorded is when the end was spooled (set by Record): what makes a
	// batch due by age.
	Recorded time.Time `json:"recorded"`
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
	b = append(b, `,"recorded":"`...)
	b = e.Recorded.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
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
