package outbox

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openCaps opens an outbox with the given caps and folding off.
func openCaps(t *testing.T, opts Options) (*Outbox, *clock, *logBuffer) {
	t.Helper()
	clk := newClock()
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	opts.Now = clk.Now
	if opts.LoopWindow == 0 {
		opts.LoopWindow = -1
	}
	o, err := Open(filepath.Join(t.TempDir(), "outbox"), opts)
	require.NoError(t, err)
	return o, clk, logs
}

func pendingIDs(t *testing.T, o *Outbox) []string {
	t.Helper()
	entries, err := o.List()
	require.NoError(t, err)
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// putAged puts report n with its file's time set to at, so that the
// oldest-first order does not depend on the file system's clock ticks.
func putAged(t *testing.T, o *Outbox, n int, at time.Time) {
	t.Helper()
	require.NoError(t, o.Put(newReport(testID(n))))
	require.NoError(t, os.Chtimes(o.reportPath(testID(n)), at, at))
}

func TestDefaultCaps(t *testing.T) {
	o, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	assert.Equal(t, 30, o.maxReports)
	assert.Equal(t, int64(64<<20), o.maxBytes)
	assert.Equal(t, 30*24*time.Hour, o.maxAge)
	assert.Equal(t, 100, o.keep)
	assert.Equal(t, int64(32<<20), o.qMaxBytes)
	assert.Equal(t, time.Hour, o.loopWindow)
	assert.Equal(t, 3, o.loopFull)
}

func TestCountCapRemovesOldestFirst(t *testing.T) {
	o, clk, logs := openCaps(t, Options{MaxReports: 5})
	for i := range 8 {
		putAged(t, o, i, clk.Now().Add(time.Duration(i)*time.Minute))
	}
	// Put pruned after each write, but the file times are set after Put:
	// prune again now that they are in order.
	st, err := o.Prune()
	require.NoError(t, err)
	assert.Equal(t, []string{testID(3), testID(4), testID(5), testID(6), testID(7)}, pendingIDs(t, o))
	assert.Equal(t, 3, strings.Count(logs.String(), "report removed unsent by the outbox caps"), logs.String())
	assert.Equal(t, 0, st.Removed(), "already within the caps after the last Put")
	c, err := o.TakeFolded(newReport(testID(99)))
	require.NoError(t, err)
	assert.Equal(t, 3, c.Dropped, "the next event says how many were dropped")
	c, err = o.TakeFolded(newReport(testID(99)))
	require.NoError(t, err)
	assert.Zero(t, c.Dropped, "said once")
}

func TestCapsOrderAndCounts(t *testing.T) {
	o, clk, logs := openCaps(t, Options{MaxReports: -1, MaxBytes: -1, MaxAge: -1})
	now := clk.Now()
	for i := range 10 {
		putAged(t, o, i, now.Add(-time.Duration(10-i)*24*time.Hour)) // report 0 is 10 days old
	}
	size := func() int64 {
		fi, err := os.Stat(o.reportPath(testID(9)))
		require.NoError(t, err)
		return fi.Size()
	}()
	o.maxAge = 8*24*time.Hour + time.Minute // reports 0 and 1 are older
	o.maxReports = 6                        // then 2 and 3 go
	o.maxBytes = 4*size + size/2            // then 4 and 5
	st, err := o.Prune()
	require.NoError(t, err)
	assert.Equal(t, PruneStats{ByAge: 2, ByCount: 2, ByBytes: 2}, st)
	assert.Equal(t, []string{testID(6), testID(7), testID(8), testID(9)}, pendingIDs(t, o))
	assert.Equal(t, 6, strings.Count(logs.String(), "report removed unsent by the outbox caps"))

	// The newest is kept whatever its size.
	o.maxBytes = 1
	st, err = o.Prune()
	require.NoError(t, err)
	assert.Equal(t, PruneStats{ByBytes: 3}, st)
	assert.Equal(t, []string{testID(9)}, pendingIDs(t, o))
	c, err := o.TakeFolded(newReport(testID(9)))
	require.NoError(t, err)
	assert.Equal(t, 9, c.Dropped)
}

func TestCapsLeaveAClaimedReport(t *testing.T) {
	o, clk, _ := openCaps(t, Options{MaxReports: -1})
	for i := range 3 {
		putAged(t, o, i, clk.Now().Add(time.Duration(i)*time.Minute))
	}
	c, err := o.Claim(testID(0)) // being sent right now
	require.NoError(t, err)
	o.maxReports = 1
	st, err := o.Prune()
	require.NoError(t, err)
	assert.Equal(t, PruneStats{ByCount: 1}, st)
	assert.Equal(t, []string{testID(0), testID(2)}, pendingIDs(t, o))
	c.Release()
	st, err = o.Prune()
	require.NoError(t, err)
	assert.Equal(t, PruneStats{ByCount: 1}, st)
	assert.Equal(t, []string{testID(2)}, pendingIDs(t, o))
}

func TestQuarantineIsPrunedByCountBytesAndAge(t *testing.T) {
	o, clk, logs := openCaps(t, Options{QuarantineKeep: 4, QuarantineMaxBytes: 2500})
	data := make([]byte, 1000)
	for i := range 6 {
		_, err := o.QuarantineData("run-"+string(rune('a'+i)), data, "damaged", "")
		require.NoError(t, err)
		clk.Advance(time.Minute)
	}
	// Count allows 4, bytes (1000 + a reason file each) only 2.
	assert.Equal(t, []string{"run-e", "run-e.reason", "run-f", "run-f.reason"}, names(t, o.qdir))
	assert.Equal(t, 4, strings.Count(logs.String(), "quarantined file removed"), logs.String())

	clk.Advance(31 * 24 * time.Hour)
	st, err := o.Prune()
	require.NoError(t, err)
	assert.Equal(t, 1, st.Quarantine, "older than MaxAge; the newest stays")
	assert.Equal(t, []string{"run-f", "run-f.reason"}, names(t, o.qdir))
}
