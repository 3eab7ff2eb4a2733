package outbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestPutLoadRoundtrip(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(1)
	want := newReport(id)
	require.NoError(t, o.Put(want))

	got, err := o.Load(id)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	path := filepath.Join(o.Dir(), id+".json")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	entries, err := o.List()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, id, entries[0].ID)
	assert.Equal(t, path, entries[0].Path)
	assert.Equal(t, fi.Size(), entries[0].Size)
	assert.Equal(t, fi.ModTime(), entries[0].ModTime)
	assert.Equal(t, State{}, entries[0].State)
	assert.Equal(t, []string{id + ".json", "quarantine"}, names(t, o.Dir()), "no temp file left behind")

	// The file is the report's plain JSON, readable by any later version.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(raw, &generic))
	assert.Equal(t, float64(report.FormatVersion), generic["format_version"])
	assert.Equal(t, id, generic["event_id"])
}

func TestPutTwiceKeepsOneFile(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(2)
	first := newReport(id)
	require.NoError(t, o.Put(first))
	second := newReport(id)
	second.Message = "collected again"
	require.NoError(t, o.Put(second))

	got, err := o.Load(id)
	require.NoError(t, err)
	assert.Equal(t, first.Message, got.Message, "the first report is kept")
	assert.Equal(t, []string{id + ".json", "quarantine"}, names(t, o.Dir()))
}

func TestPutConcurrentSameID(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(3)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			// Bypass the fast path so that every writer reaches the link.
			r := newReport(id)
			_, errs[i] = o.writeAtomic(o.reportPath(id), mustJSON(t, r), false)
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, []string{id + ".json", "quarantine"}, names(t, o.Dir()))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestPutRejects(t *testing.T) {
	o, _, _ := openTest(t)

	assert.ErrorIs(t, o.Put(nil), ErrInvalid)

	r := newReport("not-hex")
	assert.ErrorIs(t, o.Put(r), ErrInvalid)

	r = newReport(strings.ToUpper(testID(4)))
	assert.ErrorIs(t, o.Put(r), ErrInvalid, "upper case ids would not match the listing pattern")

	r = newReport(testID(4))
	r.FormatVersion = report.FormatVersion + 1
	assert.ErrorIs(t, o.Put(r), ErrInvalid)

	r = newReport(testID(4))
	r.CrashOutput = strings.Repeat("x", MaxReportSize)
	err := o.Put(r)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.NotErrorIs(t, err, ErrCorrupt)

	assert.Equal(t, []string{"quarantine"}, names(t, o.Dir()), "nothing written, no temp left")

	for _, id := range []string{"", "../" + testID(4)[3:], strings.ToUpper(testID(4))} {
		_, err = o.Load(id)
		assert.ErrorIs(t, err, ErrInvalid, "Load(%q)", id)
		_, err = o.Claim(id)
		assert.ErrorIs(t, err, ErrInvalid, "Claim(%q)", id)
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes on windows")
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	require.NoError(t, os.Mkdir(dir, 0o755))
	clk := newClock()
	o, err := Open(dir, Options{Now: clk.Now})
	require.NoError(t, err)

	id, bad := testID(5), testID(6)
	require.NoError(t, o.Put(newReport(id)))
	c, err := o.Claim(id)
	require.NoError(t, err)
	require.NoError(t, c.Failed(assert.AnError, 0))
	require.NoError(t, o.SetRateLimit("error", t0.Add(time.Minute)))
	require.NoError(t, o.Put(newReport(bad)))
	c, err = o.Claim(bad)
	require.NoError(t, err)
	require.NoError(t, c.Quarantine("sentry: 400"))

	mode := func(name string) os.FileMode {
		fi, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err)
		return fi.Mode()
	}
	assert.Equal(t, os.ModeDir|0o700, mode("."), "an existing 0755 dir is narrowed")
	assert.Equal(t, os.ModeDir|0o700, mode("quarantine"))
	assert.Equal(t, os.FileMode(0o600), mode(id+".json"))
	assert.Equal(t, os.FileMode(0o600), mode(id+".state"))
	assert.Equal(t, os.FileMode(0o600), mode("ratelimit.json"))
	assert.Equal(t, os.FileMode(0o600), mode("quarantine/"+bad+".json"))
	assert.Equal(t, os.FileMode(0o600), mode("quarantine/"+bad+".json.reason"))
}

func TestOpenRefusesSymlinkDir(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	_, err := Open(link, Options{})
	assert.ErrorIs(t, err, ErrUnsafeDir)
}

func TestTempFilesNeverListedAndStaleOnesRemoved(t *testing.T) {
	o, _, _ := openTest(t)
	id := testID(7)
	// A temp file holding a whole report is still only a temp file.
	fresh := filepath.Join(o.Dir(), ".tmp-fresh")
	stale := filepath.Join(o.Dir(), ".tmp-stale")
	for _, p := range []string{fresh, stale} {
		require.NoError(t, os.WriteFile(p, mustJSON(t, newReport(id)), 0o600))
	}
	require.NoError(t, os.Chtimes(fresh, t0.Add(-59*time.Minute), t0.Add(-59*time.Minute)))
	require.NoError(t, os.Chtimes(stale, t0.Add(-61*time.Minute), t0.Add(-61*time.Minute)))

	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.FileExists(t, fresh, "a writer may still be at work")
	assert.NoFileExists(t, stale)
}

func TestListOrderAndIgnoredNames(t *testing.T) {
	o, _, _ := openTest(t)
	ids := []string{testID(10), testID(11), testID(12)}
	ages := []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute}
	for i, id := range ids {
		require.NoError(t, o.Put(newReport(id)))
		mt := t0.Add(-ages[i])
		require.NoError(t, os.Chtimes(o.reportPath(id), mt, mt))
	}
	ignored := []string{
		"notes.txt",
		strings.ToUpper(testID(13)) + ".json",
		testID(13) + ".json.bak",
		testID(13) + ".json~",
		"short.json",
		testID(13)[:31] + "g.json",
	}
	for _, name := range ignored {
		require.NoError(t, os.WriteFile(filepath.Join(o.Dir(), name), []byte("{"), 0o600))
	}

	entries, err := o.List()
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.ID)
	}
	assert.Equal(t, []string{ids[1], ids[2], ids[0]}, got, "oldest first")
	for _, name := range ignored {
		assert.FileExists(t, filepath.Join(o.Dir(), name), "files with other names are left alone")
	}
	assert.Empty(t, names(t, o.qdir))
}

func TestTruncatedReportQuarantined(t *testing.T) {
	o, _, logs := openTest(t)
	for _, viaClaim := range []bool{false, true} {
		id := testID(20)
		if viaClaim {
			id = testID(21)
		}
		require.NoError(t, o.Put(newReport(id)))
		path := o.reportPath(id)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data[:len(data)/2], 0o600))

		if viaClaim {
			_, err = o.Claim(id)
		} else {
			_, err = o.Load(id)
		}
		assert.ErrorIs(t, err, ErrCorrupt)
		assert.NotErrorIs(t, err, ErrTooLarge)
		assert.NoFileExists(t, path)
		assert.FileExists(t, filepath.Join(o.qdir, id+".json"))
		reason := readReason(t, o, id+".json")
		assert.Contains(t, reason, "unexpected end of JSON input")
		assert.Contains(t, reason, "file: "+id+".json")
		assert.Contains(t, reason, "time: "+t0.Format(time.RFC3339Nano))
	}
	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Contains(t, logs.String(), "outbox: quarantined")
}

func TestInvalidContentQuarantined(t *testing.T) {
	o, _, _ := openTest(t)
	cases := []struct {
		name   string
		id     string
		body   map[string]any
		reason string
	}{
		{"unknown version", testID(30), map[string]any{"format_version": 99, "event_id": testID(30)}, "unknown format_version 99"},
		{"no version", testID(31), map[string]any{"event_id": testID(31)}, "unknown format_version 0"},
		{"bad event id", testID(32), map[string]any{"format_version": 1, "event_id": "XYZ"}, `event_id "XYZ" is not 32 lowercase hex digits`},
		{"other event id", testID(33), map[string]any{"format_version": 1, "event_id": testID(34)}, "does not match file name " + testID(33) + ".json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(o.reportPath(tc.id), mustJSON(t, tc.body), 0o600))
			_, err := o.Load(tc.id)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, readReason(t, o, tc.id+".json"), tc.reason)
		})
	}
}

func TestOversizeQuarantined(t *testing.T) {
	o, _, _ := openTest(t)
	big := func(id string) {
		f, err := os.OpenFile(o.reportPath(id), os.O_CREATE|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(MaxReportSize+1)) // sparse: no 16 MiB written
		require.NoError(t, f.Close())
	}
	listed, loaded := testID(40), testID(41)
	big(listed)
	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.FileExists(t, filepath.Join(o.qdir, listed+".json"))
	assert.Contains(t, readReason(t, o, listed+".json"), "too large")

	big(loaded)
	_, err = o.Load(loaded)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.FileExists(t, filepath.Join(o.qdir, loaded+".json"))
}

// A symlink at a report name is never followed: List, Load and Claim move
// the link itself (not its target) to quarantine, and Put moves it aside
// and stores the report.
func TestSymlinkNotFollowed(t *testing.T) {
	o, _, _ := openTest(t)
	outside := t.TempDir()
	plant := func(id string) string {
		target := filepath.Join(outside, id+".json")
		require.NoError(t, os.WriteFile(target, mustJSON(t, newReport(id)), 0o600))
		if err := os.Symlink(target, o.reportPath(id)); err != nil {
			t.Skip("symlinks unavailable:", err)
		}
		return target
	}
	// gone is false for Put, which stores a real report in the link's place.
	assertQuarantinedLink := func(id, target string, gone bool) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(o.qdir, id+".json"))
		require.NoError(t, err)
		assert.Equal(t, os.ModeSymlink, fi.Mode().Type())
		assert.Contains(t, readReason(t, o, id+".json"), "not a regular file")
		assert.FileExists(t, target, "the target is untouched")
		if gone {
			assert.NoFileExists(t, o.reportPath(id))
		}
	}

	listed := testID(50)
	target := plant(listed)
	entries, err := o.List()
	require.NoError(t, err)
	assert.Empty(t, entries)
	assertQuarantinedLink(listed, target, true)

	loaded := testID(51)
	target = plant(loaded)
	_, err = o.Load(loaded)
	assert.ErrorIs(t, err, ErrCorrupt)
	assertQuarantinedLink(loaded, target, true)

	claimed := testID(52)
	target = plant(claimed)
	_, err = o.Claim(claimed)
	assert.ErrorIs(t, err, ErrCorrupt)
	assertQuarantinedLink(claimed, target, true)

	put := testID(53)
	target = plant(put)
	r := newReport(put)
	r.Message = "the real one"
	require.NoError(t, o.Put(r))
	assertQuarantinedLink(put, target, false)
	got, err := o.Load(put)
	require.NoError(t, err)
	assert.Equal(t, "the real one", got.Message)
	fi, err := os.Lstat(o.reportPath(put))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
}

func TestOrphanStateRemoved(t *testing.T) {
	o, _, _ := openTest(t)
	orphan := o.statePath(testID(60))
	require.NoError(t, os.WriteFile(orphan, mustJSON(t, State{Attempts: 2}), 0o600))
	kept := testID(61)
	require.NoError(t, o.Put(newReport(kept)))
	require.NoError(t, os.WriteFile(o.statePath(kept), mustJSON(t, State{Attempts: 2}), 0o600))

	entries, err := o.List()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, 2, entries[0].State.Attempts)
	assert.NoFileExists(t, orphan)
	assert.FileExists(t, o.statePath(kept))
}
