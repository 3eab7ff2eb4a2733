package sentrytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SessionBucket is one bucket of a "sessions" item (Sentry's session
// aggregates), with the item's attrs.
type SessionBucket struct {
	Release, Environment string
	Started              time.Time
	DID                  string
	Exited, Errored      int
	Abnormal, Crashed    int
}

// parseSessions checks a "sessions" payload as Relay reads it
// (relay-event-schema SessionAggregates): attrs.release required, every
// bucket's started an RFC 3339 time, counts non-negative integers, no
// unknown fields.
func parseSessions(payload []byte) ([]SessionBucket, error) {
	var p struct {
		Aggregates []struct {
			Started  string `json:"started"`
			DID      string `json:"did"`
			Exited   int    `json:"exited"`
			Errored  int    `json:"errored"`
			Abnormal int    `json:"abnormal"`
			Crashed  int    `json:"crashed"`
		} `json:"aggregates"`
		Attrs struct {
			Release     string `json:"release"`
			Environment string `json:"environment"`
		} `json:"attrs"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.Attrs.Release == "" {
		return nil, errors.New("attrs.release missing")
	}
	if len(p.Aggregates) == 0 {
		return nil, errors.New("no aggregates")
	}
	var out []SessionBucket
	for i, a := range p.Aggregates {
		t, err := time.Parse(time.RFC3339Nano, a.Started)
		if err != nil {
			return nil, fmt.Errorf("aggregate %d: started: %w", i, err)
		}
		if a.Exited < 0 || a.Errored < 0 || a.Abnormal < 0 || a.Crashed < 0 {
			return nil, fmt.Errorf("aggregate %d: negative count", i)
		}
		out = append(out, SessionBucket{Release: p.Attrs.Release, Environment: p.Attrs.Environment, Started: t,
			DID: a.DID, Exited: a.Exited, Errored: a.Errored, Abnormal: a.Abnormal, Crashed: a.Crashed})
	}
	return out, nil
}
