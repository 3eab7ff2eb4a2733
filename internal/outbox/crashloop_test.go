package outbox

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestFingerprint(t *testing.T) {
	base := newReport(testID(1))
	fp := Fingerprint(base)
	assert.Len(t, fp, 32)
	assert.True(t, validID(fp))

	same := newReport(testID(2))
	same.Message = "runtime error: index out of range [7] with length 3"
	same.Goroutines[0].Frames[0].PC = 0x1234
	same.Goroutines[0].Frames[0].Args = "0x1"
	same.Goroutines[0].Frames[0].Line = 43
	same.Process.PID = 99
	assert.Equal(t, fp, Fingerprint(same), "message, addresses, lines and pid are not part of it")

	for name, change := range map[string]func(r *report.Report){
		"kind":    func(r *report.Report) { r.Kind = report.KindPanic },
		"release": func(r *report.Report) { r.Process.Release = "app@1.2.4" },
		"in-app frame": func(r *report.Report) {
			r.Goroutines[0].Frames[0].Function = "main.other"
		},
	} {
		r := newReport(testID(3))
		change(r)
		assert.NotEqual(t, fp, Fingerprint(r), name)
	}

	// Without an in-app frame the top frames count; without a Go stack,
	// the native ones.
	r := newReport(testID(4))
	r.Goroutines = nil
	nfp := Fingerprint(r)
	r.Native.Frames[0].Function = "other_c"
	assert.NotEqual(t, nfp, Fingerprint(r))
}

func openLoop(t *testing.T, full int) (*Outbox, *clock) {
	t.Helper()
	o, clk, _ := openCaps(t, Options{LoopWindow: time.Hour, LoopFull: full, MaxReports: -1})
	return o, clk
}

// A crash loop of 1,000 crashes of one fingerprint within a window keeps
// LoopFull reports and counts the rest; the first report kept after the
// window carries the count.
func TestCrashLoopOfThousandKeepsLoopFull(t *testing.T) {
	o, clk := openLoop(t, 3)
	folded := 0
	for i := range 1000 {
		err := o.Put(newReport(testID(i)))
		if errors.Is(err, ErrFolded) {
			folded++
		} else {
			require.NoError(t, err)
		}
		clk.Advance(3 * time.Second) // 1,000 crashes in 50 minutes
	}
	assert.Equal(t, 997, folded)
	assert.Equal(t, []string{testID(0), testID(1), testID(2)}, pendingIDs(t, o))

	// The reports of the window are sent: each takes what is folded so
	// far. Here all were collected before any was sent, so the first
	// carries the 997.
	c, err := o.TakeFolded(newReport(testID(0)))
	require.NoError(t, err)
	assert.Equal(t, Carried{Fingerprint: Fingerprint(newReport(testID(0))), Folded: 997}, c)
	c, err = o.TakeFolded(newReport(testID(1)))
	require.NoError(t, err)
	assert.Zero(t, c.Folded)

	// A report of another fingerprint is not folded by this one's loop.
	other := newReport(testID(5000))
	other.Kind = report.KindPanic
	require.NoError(t, o.Put(other))

	// Still in the window: folded. After it: kept, and carries the count.
	require.ErrorIs(t, o.Put(newReport(testID(1000))), ErrFolded)
	clk.Advance(time.Hour)
	require.NoError(t, o.Put(newReport(testID(1001))))
	c, err = o.TakeFolded(newReport(testID(1001)))
	require.NoError(t, err)
	assert.Equal(t, 1, c.Folded)
}

func TestFoldedCountIsGivenBackWhenNotDelivered(t *testing.T) {
	o, _ := openLoop(t, 1)
	require.NoError(t, o.Put(newReport(testID(0))))
	for i := 1; i <= 4; i++ {
		require.ErrorIs(t, o.Put(newReport(testID(i))), ErrFolded)
	}
	c, err := o.TakeFolded(newReport(testID(0)))
	require.NoError(t, err)
	assert.Equal(t, 4, c.Folded)
	again, err := o.TakeFolded(newReport(testID(0)))
	require.NoError(t, err)
	assert.Zero(t, again.Folded, "taken: a second sender cannot carry it too")
	require.NoError(t, o.ReturnFolded(c))
	c, err = o.TakeFolded(newReport(testID(0)))
	require.NoError(t, err)
	assert.Equal(t, 4, c.Folded)
}

func TestCrashLoopStateSharedAcrossOutboxes(t *testing.T) {
	o, clk := openLoop(t, 2)
	other, err := Open(o.Dir(), Options{Now: clk.Now, LoopWindow: time.Hour, LoopFull: 2, MaxReports: -1})
	require.NoError(t, err)
	require.NoError(t, o.Put(newReport(testID(0))))
	require.NoError(t, other.Put(newReport(testID(1))))
	require.ErrorIs(t, o.Put(newReport(testID(2))), ErrFolded)
	require.ErrorIs(t, other.Put(newReport(testID(3))), ErrFolded)
	c, err := other.TakeFolded(newReport(testID(0)))
	require.NoError(t, err)
	assert.Equal(t, 2, c.Folded)
}

func TestBrokenCrashLoopStateIsQuarantined(t *testing.T) {
	o, _ := openLoop(t, 1)
	require.NoError(t, o.Put(newReport(testID(0))))
	require.NoError(t, writeFile(o.Dir()+"/"+loopName, "{not json"))
	require.NoError(t, o.Put(newReport(testID(1))), "state lost: kept in full, never folded on a guess")
	assert.Contains(t, names(t, o.qdir), loopName)
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// A run collected again, because the process that collected it died
// between admitting its report and removing the run (or before the report
// was written), is not counted twice: the same event id gets the same
// decision.
func TestCrashLoopAdmitsAnEventIDOnce(t *testing.T) {
	o, _ := openLoop(t, 2)
	require.NoError(t, o.Put(newReport(testID(0))))
	// Its report was delivered (gone from the outbox), then the run was
	// collected again: written again, not counted again.
	require.NoError(t, os.Remove(o.reportPath(testID(0))))
	require.NoError(t, o.Put(newReport(testID(0))))
	require.NoError(t, o.Put(newReport(testID(1))), "the second of LoopFull=2 is still kept in full")
	require.ErrorIs(t, o.Put(newReport(testID(2))), ErrFolded)
	require.ErrorIs(t, o.Put(newReport(testID(2))), ErrFolded, "the same decision again")
	c, err := o.TakeFolded(newReport(testID(1)))
	require.NoError(t, err)
	assert.Equal(t, 1, c.Folded, "the folded report counted once")
}
