//go:build linux

package crashguard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
	"github.com/crashguard/crashguard-go/internal/sessions"
	"github.com/crashguard/crashguard-go/internal/transport"
)

// capturePoster keeps what the spool would post.
type capturePoster struct{ envelopes [][]byte }

func (c *capturePoster) Send(_ context.Context, env []byte) transport.Result {
	c.envelopes = append(c.envelopes, env)
	return transport.Result{Outcome: transport.Delivered}
}

type noLimits struct{}

func (noLimits) SetRateLimit(string, time.Time) error { return nil }
func (noLimits) RateLimited(string, time.Time) (time.Time, bool) {
	return time.Time{}, false
}

// The sessions envelope parses with Sentry's own types: sentry-cli's
// send-envelope reads each item as the sentry crate's SessionAggregates
// before posting, and refuses a payload that is not one (checked too, so
// this check can fail).
func TestSessionsEnvelopeParsesWithSentryCLI(t *testing.T) {
	cli := sentryCLI(t)
	sp, err := sessions.Open(filepath.Join(t.TempDir(), "sessions"))
	require.NoError(t, err)
	t0 := time.Date(2026, 12, 1, 10, 0, 17, 0, time.UTC)
	for i, st := range []string{sessions.Exited, sessions.Exited, sessions.Crashed} {
		require.NoError(t, sp.Record(sessions.Ended{RunID: "run" + string(rune('a'+i)), Started: t0, Status: st,
			Release: "app@1.2.3", Environment: "prod", DistinctID: "d1"}))
	}
	var cap capturePoster
	n, err := sp.Send(context.Background(), &cap, noLimits{}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, cap.envelopes, 1)

	// A bare endpoint: sentry-cli posts without the Content-Type the test
	// receiver insists on (Relay does not need it either).
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	dsn := "http://key@" + strings.TrimPrefix(srv.URL, "http://") + "/1"
	send := func(env []byte) (string, error) {
		path := filepath.Join(t.TempDir(), "sessions.envelope")
		require.NoError(t, os.WriteFile(path, env, 0o600))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, "send-envelope", path)
		cmd.Env = append(os.Environ(), "SENTRY_DSN="+dsn)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := send(cap.envelopes[0])
	require.NoError(t, err, "sentry-cli refused crashguard's sessions envelope:\n%s", out)
	// What it posted is its own serialization of what it parsed: the
	// aggregates survived the round trip through Sentry's types.
	env, err := sentrytest.ParseEnvelope(got)
	require.NoError(t, err, "%s", got)
	require.Len(t, env.Items, 1)
	assert.JSONEq(t, `{"aggregates":[{"started":"2026-12-01T10:00:00Z","did":"d1","exited":2,"crashed":1}],
		"attrs":{"release":"app@1.2.3","environment":"prod"}}`, string(env.Items[0].Payload))

	payload := `{"aggregates":[{"started":"not a time"}],"attrs":{}}`
	bad := `{}` + "\n" + `{"type":"sessions","length":` + strconv.Itoa(len(payload)) + "}\n" + payload + "\n"
	out, err = send([]byte(bad))
	assert.Error(t, err, "a payload that is not SessionAggregates is refused")
	assert.True(t, strings.Contains(out, "invalid item payload"), "%s", out)
}
