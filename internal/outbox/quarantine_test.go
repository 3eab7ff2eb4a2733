package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuarantineKeepsNewest(t *testing.T) {
	clk := newClock()
	o, err := Open(t.TempDir(), Options{Now: clk.Now, QuarantineKeep: 3, LoopWindow: -1})
	require.NoError(t, err)
	var ids []string
	for i := range 5 {
		id := testID(200 + i)
		ids = append(ids, id)
		require.NoError(t, o.Put(newReport(id)))
		c, err := o.Claim(id)
		require.NoError(t, err)
		require.NoError(t, c.Quarantine(fmt.Sprintf("sentry: 400 Bad Request #%d", i)))
		clk.Advance(time.Minute)
	}
	var want []string
	for _, id := range ids[2:] {
		want = append(want, id+".json", id+".json.reason")
	}
	assert.Equal(t, want, names(t, o.qdir))
	assert.Contains(t, readReason(t, o, ids[4]+".json"), "sentry: 400 Bad Request #4")
}

func TestQuarantineNeverOverwrites(t *testing.T) {
	o, clk, _ := openTest(t)
	id := testID(210)
	for i := range 2 {
		require.NoError(t, os.WriteFile(o.reportPath(id), []byte(fmt.Sprintf("broken %d", i)), 0o600))
		_, err := o.Load(id)
		require.ErrorIs(t, err, ErrCorrupt)
		clk.Advance(time.Second)
	}
	got := names(t, o.qdir)
	require.Len(t, got, 4)
	assert.Equal(t, id+".json", got[0])
	b, err := os.ReadFile(filepath.Join(o.qdir, got[0]))
	require.NoError(t, err)
	assert.Equal(t, "broken 0", string(b))
	assert.Equal(t, id+".json.reason", got[3])
	b, err = os.ReadFile(filepath.Join(o.qdir, got[1]))
	require.NoError(t, err)
	assert.Equal(t, "broken 1", string(b), "the second one gets a suffixed name")
	assert.Equal(t, got[1]+".reason", got[2])
}

func TestQuarantineDirRecreated(t *testing.T) {
	o, _, _ := openTest(t)
	require.NoError(t, os.RemoveAll(o.qdir))
	id := testID(220)
	require.NoError(t, os.WriteFile(o.reportPath(id), []byte("{"), 0o600))
	_, err := o.Load(id)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.FileExists(t, filepath.Join(o.qdir, id+".json"))
}

func TestQuarantineData(t *testing.T) {
	o, clk, _ := openTest(t)
	const name = "20231114T221320.000000000Z-42-0a0b0c0d0e0f.run"
	got, err := o.QuarantineData(name, []byte("\x00\x00\x00"), "not Go crash output", "size: 3 bytes\n")
	require.NoError(t, err)
	assert.Equal(t, name, got)
	b, err := os.ReadFile(filepath.Join(o.qdir, name))
	require.NoError(t, err)
	assert.Equal(t, "\x00\x00\x00", string(b), "the raw bytes are kept as they were")
	assert.Equal(t, "file: "+name+"\ntime: 2026-11-22T12:00:00Z\nreason: not Go crash output\nsize: 3 bytes\n",
		readReason(t, o, name))

	clk.Advance(time.Second)
	again, err := o.QuarantineData(name, []byte("second"), "again", "")
	require.NoError(t, err)
	assert.Equal(t, name+".20261122T120001Z-1", again, "a taken name gets a suffix, nothing is overwritten")
	assert.Equal(t, []string{name, name + ".20261122T120001Z-1", name + ".20261122T120001Z-1.reason", name + ".reason"},
		names(t, o.qdir))
	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries, "quarantined data is never pending")

	for _, bad := range []string{"", ".hidden", "a/b", "../x", "x.reason", `a\b`} {
		_, err := o.QuarantineData(bad, nil, "r", "")
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
}

func TestQuarantineDataCountsTowardsKeep(t *testing.T) {
	clk := newClock()
	o, err := Open(t.TempDir(), Options{Now: clk.Now, QuarantineKeep: 2})
	require.NoError(t, err)
	for i := range 3 {
		_, err := o.QuarantineData(fmt.Sprintf("r%d.run", i), []byte("x"), "damaged", "")
		require.NoError(t, err)
		clk.Advance(time.Minute)
	}
	assert.Equal(t, []string{"r1.run", "r1.run.reason", "r2.run", "r2.run.reason"}, names(t, o.qdir))
}
