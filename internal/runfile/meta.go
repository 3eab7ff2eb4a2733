package runfile

import "github.com/crashguard/crashguard-go/internal/report"

// Meta is what a process says about itself at Install, for the report that a
// later process may have to write about it.
type Meta struct {
	RunID   string `json:"run_id"`
	EventID string `json:"event_id"`
	// Process carries the pid and start time too (the run id is made of them).
	Process report.Process `json:"process"`
	// FatalStrings are the addresses of the runtime's fatal error texts in
	// this process (traceback.FatalStrings): the crash output prints them as
	// the thrower's first argument, which names the exact fatal error that
	// the output itself leaves out.
	FatalStrings map[uint64]string `json:"fatal_strings,omitempty"`
	// Session is set when the run is a Release Health session: whoever
	// ends the run (its collector, or the start that takes its files over)
	// then spools the session's end. Nil: no session is counted.
	Session *Session `json:"session,omitempty"`
}

// Session is what a run's session needs beyond the process's release and
// environment.
type Session struct {
	// DID is the session's distinct id (Sentry's "did"), "" for none.
	DID string `json:"did,omitempty"`
}
