package outbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimitPersistsAcrossOpen(t *testing.T) {
	o, clk, _ := openTest(t)
	require.NoError(t, o.SetRateLimit("error", t0.Add(time.Minute)))

	o2, err := Open(o.Dir(), Options{Now: clk.Now})
	require.NoError(t, err)
	until, limited := o2.RateLimited("error", t0)
	assert.True(t, limited)
	assert.Equal(t, t0.Add(time.Minute), until)
	_, limited = o2.RateLimited("transaction", t0)
	assert.False(t, limited, "other categories are free")
	_, limited = o2.RateLimited("error", t0.Add(time.Minute))
	assert.False(t, limited, "a limit ends at its until")

	// "" limits every category; the later of the two limits counts.
	require.NoError(t, o2.SetRateLimit("", t0.Add(10*time.Second)))
	until, limited = o.RateLimited("transaction", t0)
	assert.True(t, limited)
	assert.Equal(t, t0.Add(10*time.Second), until)
	until, limited = o.RateLimited("error", t0)
	assert.True(t, limited)
	assert.Equal(t, t0.Add(time.Minute), until)
	until, limited = o.RateLimited("", t0)
	assert.True(t, limited)
	assert.Equal(t, t0.Add(10*time.Second), until)

	// Sentry's latest answer wins, also when shorter; a past until clears.
	require.NoError(t, o.SetRateLimit("error", t0.Add(5*time.Second)))
	until, _ = o.RateLimited("error", t0)
	assert.Equal(t, t0.Add(10*time.Second), until, "now only the all-categories limit is longer")
	require.NoError(t, o.SetRateLimit("", t0))
	require.NoError(t, o.SetRateLimit("error", t0))
	_, limited = o.RateLimited("error", t0)
	assert.False(t, limited)
}

func TestRateLimitCappedAndSkewIgnored(t *testing.T) {
	o, _, _ := openTest(t)
	require.NoError(t, o.SetRateLimit("error", t0.Add(30*24*time.Hour)))
	until, limited := o.RateLimited("error", t0)
	assert.True(t, limited)
	assert.Equal(t, t0.Add(MaxDelay), until)
	// Seen from a clock that went back two days, the limit is not believed.
	_, limited = o.RateLimited("error", t0.Add(-48*time.Hour))
	assert.False(t, limited)
}

func TestRateLimitCorruptFileQuarantined(t *testing.T) {
	o, _, _ := openTest(t)
	path := filepath.Join(o.Dir(), "ratelimit.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, limited := o.RateLimited("error", t0)
	assert.False(t, limited)
	assert.NoFileExists(t, path)
	assert.Contains(t, readReason(t, o, "ratelimit.json"), "parse rate limits")

	require.NoError(t, o.SetRateLimit("error", t0.Add(time.Minute)))
	_, limited = o.RateLimited("error", t0)
	assert.True(t, limited, "a new 429 sets limits again")
}
