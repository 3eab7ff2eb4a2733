package crashguard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sessions"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// Release Health: each run that Install starts with a DSN and a release is
// one session (runfile.Meta.Session). Nothing is sent at Install or while
// the program runs: whoever finds the run ended (a later start's collector,
// the monitor, the crashguard command, or the start that takes the run's
// files over) spools its end, "crashed" with crash evidence and "exited"
// otherwise, and a delivery pass sends the spool as session aggregates
// when it is due (sessions.Spool.Due). See the README's Release Health
// section for the rule.

// sessionMeta is what this run's metadata says about its session: nil when
// sessions are off, there is no DSN, no release (Sentry requires one), or
// the OS cannot send them (sessions.Supported: Windows).
func sessionMeta(s settings, opts Options) *runfile.Session {
	if opts.DisableSessions || s.dsn == "" || s.release == "" || !sessions.Supported {
		return nil
	}
	did := opts.SessionDistinctID
	if did == "" {
		did = machineDID()
	}
	return &runfile.Session{DID: did}
}

// machineIDFiles are where Linux keeps the machine id (systemd, then
// D-Bus's older place).
var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// machineDID is the distinct id of this machine: a hash of its machine id,
// so the id itself (which systemd asks not to expose) never leaves it.
// Empty where there is none (macOS, many containers): sessions then count
// no users.
func machineDID() string {
	for _, p := range machineIDFiles {
		b, err := os.ReadFile(p)
		if id := strings.TrimSpace(string(b)); err == nil && id != "" {
			sum := sha256.Sum256([]byte("crashguard-did:" + id))
			return hex.EncodeToString(sum[:16])
		}
	}
	return ""
}

// sessionSpool opens the spool in sessions/ beside the outbox the first
// time a session ends, so a directory is created only when needed.
type sessionSpool struct {
	dir string
	mu  sync.Mutex
	sp  *sessions.Spool
}

func (g *Guard) newSessionSpool() *sessionSpool {
	return &sessionSpool{dir: filepath.Join(g.s.dir, "sessions")}
}

// open returns the spool, nil when it cannot be opened.
func (p *sessionSpool) open(create bool) *sessions.Spool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sp == nil {
		if !create {
			if _, err := os.Lstat(p.dir); err != nil {
				return nil
			}
		}
		p.sp, _ = sessions.Open(p.dir)
	}
	return p.sp
}

// ended spools the end of the session of the run m describes: the
// collector's OnEnded, and what a start does for the run it took over.
// A spool that cannot be written is logged and the run goes all the same:
// a session count is not evidence worth keeping a run for.
func (g *Guard) ended(m *runfile.Meta, crashed bool, crashTime time.Time) {
	if m == nil || m.Session == nil || g.sessions == nil {
		return
	}
	e := sessions.Ended{
		RunID:       m.RunID,
		Status:      sessions.Exited,
		Release:     m.Process.Release,
		Environment: m.Process.Environment,
		DistinctID:  m.Session.DID,
	}
	end := time.Now() // a clean end leaves no time: it was at the latest now
	if crashed {
		e.Status, end = sessions.Crashed, crashTime
	}
	e.Started = sessions.LastStart(m.Process.StartTime, end)
	sp := g.sessions.open(true)
	if sp == nil {
		g.s.logger.Warn("crashguard: session not counted: sessions/ unusable", "run", m.RunID, "dir", g.sessions.dir)
		return
	}
	if err := sp.Record(e); err != nil {
		g.s.logger.Warn("crashguard: session not counted", "run", m.RunID, "err", err)
	}
}

// sendSessions sends the spooled sessions when they are due (always when
// all is set) within ctx. What is not sent stays spooled for a later pass;
// it is logged, not returned: Flush's error is about reports.
func (g *Guard) sendSessions(ctx context.Context, tr *transport.Sender, all bool) {
	if g.sessions == nil || g.outbox == nil {
		return
	}
	sp := g.sessions.open(false)
	if sp == nil || !all && !sp.Due(time.Now()) {
		return
	}
	n, err := sp.Send(ctx, tr, g.outbox.Outbox, time.Now())
	if n > 0 {
		g.s.logger.Info("crashguard: sessions sent", "count", n)
	}
	if err != nil {
		g.s.logger.Info("crashguard: sessions kept for a later pass", "err", err)
	}
}

// sessionsDue reports whether the spool is due for sending.
func (g *Guard) sessionsDue() bool {
	if g.sessions == nil {
		return false
	}
	sp := g.sessions.open(false)
	return sp != nil && sp.Due(time.Now())
}
