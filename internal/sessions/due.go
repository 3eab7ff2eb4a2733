package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Batching: a start or a Flush sends spooled sessions only when they are
// due, so a short-lived program does not cost a request per run; the
// monitor and the crashguard command send whatever is spooled.
const (
	// BatchSize spooled sessions are due at once.
	BatchSize = 25
	// BatchAge is how long the oldest spooled session waits for others:
	// about what sentry-javascript's session flusher waits (60 s) for a
	// long-lived process, stretched for programs that run now and then.
	BatchAge = 10 * time.Minute
)

// Due reports whether the spool should be sent now: it holds a crashed
// session (its crash event is on its way too), BatchSize sessions, or one
// spooled BatchAge ago or earlier. An empty or missing spool is never due.
func (s *Spool) Due(now time.Time) bool {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return false
	}
	var names []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ext) && de.Type().IsRegular() {
			names = append(names, de.Name())
		}
	}
	if len(names) >= BatchSize {
		return true
	}
	for _, name := range names {
		path := filepath.Join(s.dir, name)
		if fi, err := os.Lstat(path); err == nil && now.Sub(fi.ModTime()) >= BatchAge {
			return true
		}
		if e, err := read(path); err == nil && e.Status == Crashed {
			return true
		}
	}
	return false
}
