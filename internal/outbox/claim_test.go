package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClaimExclusiveInProcess(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(100)
	require.NoError(t, o.Put(newReport(id)))

	c1, err := o.Claim(id)
	require.NoError(t, err)
	assert.Equal(t, id, c1.ID())
	assert.Equal(t, newReport(id), c1.Report())

	_, err = o.Claim(id)
	assert.ErrorIs(t, err, ErrBusy)

	c1.Release()
	c1.Release() // ending twice is harmless
	assert.ErrorIs(t, c1.Delivered(), ErrClaimEnded)
	assert.FileExists(t, o.reportPath(id), "Release leaves the report")

	c2, err := o.Claim(id)
	require.NoError(t, err)
	c2.Release()
}

func TestClaimConcurrentGoroutinesDeliverOnce(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(101)
	require.NoError(t, o.Put(newReport(id)))

	var delivered atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			c, err := o.Claim(id)
			if err != nil {
				errs[i] = err
				return
			}
			delivered.Add(1)
			errs[i] = c.Delivered()
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), delivered.Load())
	for _, err := range errs {
		if err != nil {
			assert.True(t, errors.Is(err, ErrBusy) || errors.Is(err, ErrGone), "unexpected error %v", err)
		}
	}
}

func TestDeliveredRemovesReportAndState(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(102)
	require.NoError(t, o.Put(newReport(id)))
	c, err := o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Failed(errors.New("connection refused"), 0))
	require.FileExists(t, o.statePath(id))

	c, err = o.Claim(id)
	require.NoError(t, err)
	assert.Equal(t, 1, c.State().Attempts)
	require.NoError(t, c.Delivered())
	assert.ErrorIs(t, c.Delivered(), ErrClaimEnded)
	c.Release()

	assert.Equal(t, []string{"quarantine"}, names(t, o.Dir()))
	_, err = o.Claim(id)
	assert.ErrorIs(t, err, ErrGone)
	_, err = o.Load(id)
	assert.ErrorIs(t, err, ErrGone)
}

// The race Claim must close: we open the report, another holder delivers it
// (unlinks it) and lets go, then we lock the file that no longer has a name.
func TestClaimDeletedBetweenOpenAndLock(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(103)
	require.NoError(t, o.Put(newReport(id)))

	withHookAfterOpen(t, func(string) {
		testHookAfterOpen = nil // the other holder's own Claim runs unhooked
		other, err := o.Claim(id)
		require.NoError(t, err)
		require.NoError(t, other.Delivered())
	})
	_, err := o.Claim(id)
	assert.ErrorIs(t, err, ErrGone)
	assert.Empty(t, names(t, o.qdir))
}

// Same window, but the name now belongs to a new file with the same id (the
// run was collected again): the old descriptor must not be taken for it.
func TestClaimReplacedBetweenOpenAndLock(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(104)
	require.NoError(t, o.Put(newReport(id)))

	withHookAfterOpen(t, func(path string) {
		testHookAfterOpen = nil
		require.NoError(t, os.Remove(path))
		r := newReport(id)
		r.Message = "second collection"
		require.NoError(t, o.Put(r))
	})
	_, err := o.Claim(id)
	assert.ErrorIs(t, err, ErrGone)

	c, err := o.Claim(id)
	require.NoError(t, err)
	assert.Equal(t, "second collection", c.Report().Message)
	c.Release()
}

func TestBackoffSchedule(t *testing.T) {
	o, clk, _ := openTest(t)
	id := testID(105)
	require.NoError(t, o.Put(newReport(id)))

	want := []time.Duration{
		time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, 64 * time.Minute, 128 * time.Minute, 256 * time.Minute,
		6 * time.Hour, 6 * time.Hour,
	}
	for i, d := range want {
		c, err := o.Claim(id)
		require.NoError(t, err)
		require.NoError(t, c.Failed(errors.New("503 Service Unavailable"), 0))
		st := c.State()
		assert.Equal(t, i+1, st.Attempts)
		assert.Equal(t, "503 Service Unavailable", st.LastError)
		assert.Equal(t, clk.Now(), st.LastAttempt)
		assert.Equal(t, clk.Now().Add(d), st.NextAttempt, "attempt %d", i+1)
		assert.False(t, st.Due(clk.Now()))
		clk.Advance(d)
		assert.True(t, st.Due(clk.Now()))
	}

	// Sentry's Retry-After wins over backoff, up to MaxDelay.
	c, err := o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Failed(errors.New("429"), 90*time.Second))
	assert.Equal(t, clk.Now().Add(90*time.Second), c.State().NextAttempt)
	c, err = o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Failed(errors.New("429"), 30*24*time.Hour))
	assert.Equal(t, clk.Now().Add(MaxDelay), c.State().NextAttempt)

	// The state survives a new Open (another process, next launch).
	o2, err := Open(o.Dir(), Options{Now: clk.Now})
	require.NoError(t, err)
	entries, err := o2.List()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, State{
		Attempts:    len(want) + 2,
		LastError:   "429",
		LastAttempt: clk.Now(),
		NextAttempt: clk.Now().Add(MaxDelay),
	}, entries[0].State)
}

func TestBackoffConfigurableWithJitter(t *testing.T) {
	clk := newClock()
	jitter := 0.5
	o, err := Open(t.TempDir(), Options{
		Now: clk.Now, BackoffBase: 10 * time.Second, BackoffCap: 35 * time.Second,
		Rand: func() float64 { return jitter },
	})
	require.NoError(t, err)
	// 10s, 20s, 35s (cap), each shortened by 20% * 0.5 = 10%.
	assert.Equal(t, 9*time.Second, o.backoff(1))
	assert.Equal(t, 18*time.Second, o.backoff(2))
	assert.Equal(t, 31500*time.Millisecond, o.backoff(3))
	assert.Equal(t, 31500*time.Millisecond, o.backoff(1000), "no overflow on many attempts")
	jitter = 0.999999
	assert.Greater(t, o.backoff(1), 8*time.Second, "jitter takes at most 20%")
}

func TestDue(t *testing.T) {
	assert.True(t, State{}.Due(t0), "never tried")
	s := State{Attempts: 1, NextAttempt: t0.Add(time.Minute)}
	assert.False(t, s.Due(t0))
	assert.True(t, s.Due(t0.Add(time.Minute)))
	assert.True(t, s.Due(t0.Add(time.Hour)))
	skewed := State{Attempts: 1, NextAttempt: t0.Add(MaxDelay + time.Second)}
	assert.True(t, skewed.Due(t0), "a time beyond MaxDelay means the clock went back")
}

func TestBrokenStateQuarantinedByClaim(t *testing.T) {
	o, _, logs := openTest(t)
	id := testID(106)
	require.NoError(t, o.Put(newReport(id)))
	require.NoError(t, os.WriteFile(o.statePath(id), []byte(`{"attempts":`), 0o600))

	entries, err := o.List()
	require.NoError(t, err)
	require.Len(t, entries, 1, "a broken state never hides its report")
	assert.Equal(t, State{}, entries[0].State)
	assert.Contains(t, logs.String(), "unreadable state")
	assert.FileExists(t, o.statePath(id), "List does not move what it does not hold")

	c, err := o.Claim(id)
	require.NoError(t, err)
	defer c.Release()
	assert.Equal(t, State{}, c.State())
	assert.NoFileExists(t, o.statePath(id))
	assert.Contains(t, readReason(t, o, id+".state"), "parse state")
}

func TestClaimQuarantine(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(107)
	require.NoError(t, o.Put(newReport(id)))
	c, err := o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Failed(errors.New("timeout"), 0))

	c, err = o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Quarantine("sentry: 413 Payload Too Large"))
	assert.ErrorIs(t, c.Quarantine("again"), ErrClaimEnded)

	assert.Equal(t, []string{"quarantine"}, names(t, o.Dir()), "report and state left the outbox")
	assert.Equal(t, []string{id + ".json", id + ".json.reason"}, names(t, o.qdir))
	reason := readReason(t, o, id+".json")
	assert.Contains(t, reason, "reason: sentry: 413 Payload Too Large")
	assert.Contains(t, reason, "attempts: 1")
	assert.Contains(t, reason, "last_error: timeout")
	_, err = os.ReadFile(filepath.Join(o.qdir, id+".json"))
	assert.NoError(t, err)
}
