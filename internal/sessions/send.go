package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/crashguard/crashguard-go/internal/transport"
)

// MaxPerPass bounds the sessions one Send reads and sends; the rest wait for
// the next pass.
const MaxPerPass = 10000

// Poster posts one envelope: *transport.Sender.
type Poster interface {
	Send(ctx context.Context, envelope []byte) transport.Result
}

// RateLimits is where Sentry's rate limits are kept across processes:
// *outbox.Outbox.
type RateLimits interface {
	SetRateLimit(category string, until time.Time) error
	RateLimited(category string, now time.Time) (until time.Time, limited bool)
}

// ErrNotSent means spooled sessions stay for a later pass (Sentry could not
// be reached, or asked for a pause).
var ErrNotSent = errors.New("sessions: not sent")

// Send sends what the spool holds as aggregates, one envelope per release
// and environment, and removes what Sentry accepted or refused (refused
// counts would be refused again); what could not be sent stays for a later
// pass. It honours the "session" rate limit shared with every process using
// the same outbox, and records a new one. Another process sending the same
// spool right now makes it return at once with nothing done.
func (s *Spool) Send(ctx context.Context, p Poster, rl RateLimits, now time.Time) (sent int, err error) {
	unlock, ok, err := s.lock()
	if err != nil || !ok {
		return 0, err
	}
	defer unlock()
	if until, limited := rl.RateLimited(transport.CategorySession, now); limited {
		return 0, fmt.Errorf("%w: rate limited by Sentry until %s", ErrNotSent, until.Format(time.RFC3339))
	}
	batches, err := s.claim(now)
	if err != nil || len(batches) == 0 {
		return 0, err
	}
	var entries []entry
	seen := map[string]bool{}
	for _, b := range batches {
		es, err := readFile(b, true)
		if err != nil {
			return 0, fmt.Errorf("sessions: %w", err)
		}
		for _, e := range es {
			if !seen[e.RunID] { // spooled twice (see rewrite): counted once
				seen[e.RunID] = true
				entries = append(entries, e)
			}
		}
	}
	var left []entry
	if len(entries) > MaxPerPass {
		entries, left = entries[:MaxPerPass], entries[MaxPerPass:]
	}
	var errs []error
	groups := group(entries)
	for i, g := range groups {
		env, err := envelope(g, now)
		if err == nil {
			res := p.Send(ctx, env)
			if until := res.Until(transport.CategorySession); !until.IsZero() {
				_ = rl.SetRateLimit(transport.CategorySession, until)
			}
			switch res.Outcome {
			case transport.Delivered:
				sent += len(g.entries)
				continue
			case transport.Rejected:
				errs = append(errs, fmt.Errorf("sessions: refused by Sentry: %w", res.Err))
				continue
			}
			err = fmt.Errorf("%w: %s: %w", ErrNotSent, res.Outcome, res.Err)
		}
		// Not sent: this group and every later one wait.
		for _, rest := range groups[i:] {
			left = append(left, rest.entries...)
		}
		errs = append(errs, err)
		break
	}
	return sent, errors.Join(append(errs, s.rewrite(batches, left, now))...)
}

// batch is the sessions of one release and environment.
type batch struct {
	release, environment string
	entries              []entry
}

func group(entries []entry) []batch {
	idx := map[[2]string]int{}
	var out []batch
	for _, e := range entries {
		k := [2]string{e.Release, e.Environment}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, batch{release: e.Release, environment: e.Environment})
		}
		out[i].entries = append(out[i].entries, e)
	}
	return out
}

// aggregate is one bucket of Sentry's session aggregates: the sessions that
// started in one minute, for one distinct id.
type aggregate struct {
	Started time.Time `json:"started"`
	DID     string    `json:"did,omitempty"`
	Exited  int       `json:"exited,omitempty"`
	Crashed int       `json:"crashed,omitempty"`
}

type attrs struct {
	Release     string `json:"release"`
	Environment string `json:"environment,omitempty"`
}

type aggregates struct {
	Aggregates []aggregate `json:"aggregates"`
	Attrs      attrs       `json:"attrs"`
}

// envelope is one "sessions" item for the batch.
func envelope(b batch, now time.Time) ([]byte, error) {
	type key struct {
		started time.Time
		did     string
	}
	buckets := map[key]*aggregate{}
	for _, e := range b.entries {
		k := key{e.Started.UTC().Truncate(time.Minute), e.DistinctID}
		a := buckets[k]
		if a == nil {
			a = &aggregate{Started: k.started, DID: k.did}
			buckets[k] = a
		}
		if e.Status == Crashed {
			a.Crashed++
		} else {
			a.Exited++
		}
	}
	payload := aggregates{Attrs: attrs{Release: b.release, Environment: b.environment}}
	for _, a := range buckets {
		payload.Aggregates = append(payload.Aggregates, *a)
	}
	sort.Slice(payload.Aggregates, func(i, j int) bool {
		ai, aj := payload.Aggregates[i], payload.Aggregates[j]
		if !ai.Started.Equal(aj.Started) {
			return ai.Started.Before(aj.Started)
		}
		return ai.DID < aj.DID
	})
	item, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	head, _ := json.Marshal(map[string]string{"sent_at": now.UTC().Format(time.RFC3339Nano)})
	itemHead, _ := json.Marshal(map[string]any{"type": "sessions", "length": len(item)})
	env := append(head, '\n')
	env = append(env, itemHead...)
	env = append(env, '\n')
	env = append(env, item...)
	return append(env, '\n'), nil
}

// lock takes the spool's lock without waiting: ok is false when another
// process holds it (it is sending the same sessions).
func (s *Spool) lock() (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("sessions: lock: %w", err)
	}
	got, err := tryLock(f)
	if err != nil || !got {
		f.Close()
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}
