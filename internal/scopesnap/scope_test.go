package scopesnap

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// newHub is a hub with a client that sends nothing, as a program's.
func newHub(t *testing.T, opts sentry.ClientOptions) *sentry.Hub {
	c, err := sentry.NewClient(opts)
	require.NoError(t, err)
	return sentry.NewHub(c, sentry.NewScope())
}

func TestReadScopeAsSentryGoAppliesIt(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{MaxBreadcrumbs: 50, SendDefaultPII: true})
	hub.ConfigureScope(func(s *sentry.Scope) {
		s.SetUser(sentry.User{ID: "u-1", Email: "a@example.com", Data: map[string]string{"plan": "pro"}})
		s.SetTags(map[string]string{"region": "eu", "shard": "7"})
		s.SetContext("order", sentry.Context{"id": 42, "items": []any{"a", "b"}})
		s.SetLevel(sentry.LevelWarning)
		s.SetFingerprint([]string{"{{ default }}", "checkout"})
	})
	t0 := time.Now()
	for i := range 3 {
		hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "step", Message: "m" + string(rune('0'+i)), Data: map[string]any{"i": i}}, nil)
	}
	sc, err := readScope(hub)
	require.NoError(t, err)
	assert.Equal(t, &report.User{ID: "u-1", Email: "a@example.com", Data: map[string]string{"plan": "pro"}}, sc.User)
	assert.Equal(t, map[string]string{"region": "eu", "shard": "7"}, sc.Tags)
	assert.Equal(t, map[string]any{"id": 42, "items": []any{"a", "b"}}, sc.Contexts["order"])
	assert.NotEmpty(t, sc.Contexts["trace"]["trace_id"], "the scope's propagation context, as on every error event")
	assert.Equal(t, "warning", sc.Level)
	assert.Equal(t, []string{"{{ default }}", "checkout"}, sc.Fingerprint)
	require.Len(t, sc.Breadcrumbs, 3)
	assert.Equal(t, "m2", sc.Breadcrumbs[2].Message)
	assert.Equal(t, "step", sc.Breadcrumbs[2].Category)
	assert.False(t, sc.Breadcrumbs[0].Timestamp.Before(t0))
	assert.Equal(t, 50, sc.MaxBreadcrumbs)
	assert.True(t, sc.SendDefaultPII)

	// Through the payload and back, as the collector reads it.
	p := encodeScope(sc, t0, scopeSlotSize-slotHead)
	back, err := decodeScope(p)
	require.NoError(t, err)
	assert.Equal(t, sc.User, back.User)
	assert.Equal(t, sc.Tags, back.Tags)
	assert.Equal(t, map[string]any{"id": float64(42), "items": []any{"a", "b"}}, back.Contexts["order"])
	assert.Equal(t, t0.UnixNano(), back.Written.UnixNano())
	for i := range sc.Breadcrumbs {
		assert.Equal(t, sc.Breadcrumbs[i].Timestamp.UnixNano(), back.Breadcrumbs[i].Timestamp.UnixNano())
	}
}

func TestReadScopeProcessorDropOrPanicKeepsPrevious(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	hub.Scope().AddEventProcessor(func(*sentry.Event, *sentry.EventHint) *sentry.Event { return nil })
	_, err := readScope(hub)
	assert.ErrorContains(t, err, "dropped")
	hub = newHub(t, sentry.ClientOptions{})
	hub.Scope().AddEventProcessor(func(*sentry.Event, *sentry.EventHint) *sentry.Event { panic("boom") })
	_, err = readScope(hub)
	assert.ErrorContains(t, err, "boom")
}

func TestEncodeScopeTrimsOldestBreadcrumbs(t *testing.T) {
	s := scopeNamed("big", 100)
	for i := range s.Breadcrumbs {
		s.Breadcrumbs[i].Message = strings.Repeat("x", 4000) + s.Breadcrumbs[i].Message
	}
	p := encodeScope(s, time.Now(), scopeSlotSize-slotHead)
	require.NotNil(t, p)
	assert.LessOrEqual(t, len(p), scopeSlotSize-slotHead)
	back, err := decodeScope(p)
	require.NoError(t, err)
	require.NotEmpty(t, back.Breadcrumbs)
	assert.Equal(t, 100, len(back.Breadcrumbs)+back.BreadcrumbsDropped)
	assert.True(t, strings.HasSuffix(back.Breadcrumbs[len(back.Breadcrumbs)-1].Message, "big99"), "the newest kept")

	// What JSON cannot encode becomes its rendering.
	s = scopeNamed("odd", 1)
	s.Contexts = map[string]map[string]any{"c": {"ch": make(chan int), "ok": 1}}
	back, err = decodeScope(encodeScope(s, time.Now(), scopeSlotSize-slotHead))
	require.NoError(t, err)
	assert.Equal(t, float64(1), back.Contexts["c"]["ok"])
	assert.IsType(t, "", back.Contexts["c"]["ch"])
}

func TestEncodeCrumbFitsAnEntry(t *testing.T) {
	b := &sentry.Breadcrumb{Message: strings.Repeat("é\"", 2000), Data: map[string]any{"big": strings.Repeat("y", 5000)}, Timestamp: time.Now()}
	p := appendCrumb(nil, b)
	require.NotNil(t, p)
	assert.LessOrEqual(t, len(p), ringEntrySize-slotHead)
	c, cut, ok := decodeCrumb(p)
	require.True(t, ok, "%s", p)
	assert.True(t, cut)
	assert.Nil(t, c.Data)
	assert.True(t, strings.HasSuffix(c.Message, "…"))
	assert.True(t, strings.HasPrefix(b.Message, strings.TrimSuffix(c.Message, "…")))
	assert.Greater(t, len(c.Message), 300, "as much as fits")
	assert.Equal(t, b.Timestamp.UnixNano(), c.Timestamp.UnixNano())

	assert.Nil(t, appendCrumb(nil, &sentry.Breadcrumb{Type: strings.Repeat("t", 2000)}), "nothing fits")
}

// TestAppendCrumbIsJSON: the hand-written encoding decodes to what
// encoding/json would have written, whatever the strings hold.
func TestAppendCrumbIsJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "ctl \x00\x01\x1f\n\r\t", "bad utf8 \xff\xfe x",
		"line sep \u2028 para \u2029", "html <a>&</a>", "日本語 é ☃ 🎉"} {
		b := &sentry.Breadcrumb{Type: s, Category: s, Message: s, Level: sentry.Level(s), Timestamp: time.Unix(1700000000, 123),
			Data: map[string]any{"s": s, "n": 1.5, "i": -3, "u": uint64(1 << 63), "t": true, "nil": nil, "inf": math.Inf(1),
				"nested": map[string]any{"a": []int{1, 2}}, "ch": make(chan int)}}
		p := appendCrumb(nil, b)
		require.NotNil(t, p)
		var got, want map[string]any
		require.NoError(t, json.Unmarshal(p, &got), "%q", p)
		js, err := json.Marshal(ringCrumb{TS: b.Timestamp.UnixNano(), Type: s, Category: s, Message: s, Level: s,
			Data: map[string]any{"s": s, "n": 1.5, "i": -3, "u": uint64(1 << 63), "t": true, "nil": nil, "inf": "+Inf",
				"nested": map[string]any{"a": []int{1, 2}}, "ch": fmt.Sprint(b.Data["ch"])}})
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(js, &want))
		assert.Equal(t, want, got, "%q", s)
	}
}

// TestMergeBreadcrumbs: the ring's exact breadcrumbs and the snapshot's
// make one list, each breadcrumb once, oldest first, MaxBreadcrumbs long.
func TestMergeBreadcrumbs(t *testing.T) {
	at := func(i int) time.Time { return time.Unix(1700000000, int64(i)).UTC() }
	sc := &report.Scope{MaxBreadcrumbs: 5}
	// Snapshot: 1..4 (1 and 2 from before the ring existed; 4 added
	// straight to the scope, bypassing BeforeBreadcrumb).
	for _, i := range []int{1, 2, 3, 4} {
		sc.Breadcrumbs = append(sc.Breadcrumbs, report.Breadcrumb{Timestamp: at(i), Message: "s"})
	}
	// Ring: 3, then 5 and 6, added after the snapshot.
	var ring []ringBreadcrumb
	for _, i := range []int{3, 5, 6} {
		ring = append(ring, ringBreadcrumb{b: report.Breadcrumb{Timestamp: at(i), Message: "s", Data: map[string]any{"ring": true}}})
	}
	mergeBreadcrumbs(sc, ring)
	var got []int64
	for _, b := range sc.Breadcrumbs {
		got = append(got, b.Timestamp.UnixNano()-at(0).UnixNano())
	}
	assert.Equal(t, []int64{2, 3, 4, 5, 6}, got, "1 is past MaxBreadcrumbs; 3 once")
	assert.Equal(t, map[string]any{"ring": true}, sc.Breadcrumbs[1].Data, "the ring's copy of 3")
	assert.Equal(t, 3, sc.RingBreadcrumbs)

	// A breadcrumb the ring had to cut: the snapshot's whole one wins;
	// one the snapshot does not have yet: the cut one is better than none.
	sc = &report.Scope{Breadcrumbs: []report.Breadcrumb{{Timestamp: at(1), Message: strings.Repeat("x", 2000)}}}
	mergeBreadcrumbs(sc, []ringBreadcrumb{
		{b: report.Breadcrumb{Timestamp: at(1), Message: "xxx…"}, cut: true},
		{b: report.Breadcrumb{Timestamp: at(2), Message: "yyy…"}, cut: true},
	})
	require.Len(t, sc.Breadcrumbs, 2)
	assert.Len(t, sc.Breadcrumbs[0].Message, 2000)
	assert.Equal(t, "yyy…", sc.Breadcrumbs[1].Message)
	assert.Equal(t, 1, sc.RingBreadcrumbs)
}

// TestStartSnapshotsAndRead: Start creates the file, snapshots the hub's
// scope, writes a new snapshot only when it changed, records that the
// last one is still current, and Read gives it back with the ring's
// breadcrumbs, the settings and a runtime sample.
func TestStartSnapshotsAndRead(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	hub.ConfigureScope(func(s *sentry.Scope) { s.SetTag("k", "v1") })
	path := filepath.Join(t.TempDir(), "x.scope")
	stop, err := start(path, 10*time.Millisecond, Settings(), func() *sentry.Hub { return hub }, false)
	require.NoError(t, err)
	defer stop()
	sc := waitScope(t, path, func(s *report.Scope) bool { return s.Tags["k"] == "v1" })
	first := sc.Seq
	waitScope(t, path, func(s *report.Scope) bool { return s.Taken.After(sc.Taken) })
	sc2, rt, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, first, sc2.Seq, "unchanged: not written again")
	assert.Equal(t, sc.Written, sc2.Written)
	require.NotNil(t, rt.Settings)
	assert.Equal(t, runtime.GOMAXPROCS(0), rt.Settings.GOMAXPROCS)
	require.NotNil(t, rt.Sample)
	assert.NotZero(t, rt.Sample.HeapInUse)
	assert.NotZero(t, rt.Sample.Goroutines)

	hub.ConfigureScope(func(s *sentry.Scope) { s.SetTag("k", "v2") })
	sc3 := waitScope(t, path, func(s *report.Scope) bool { return s.Tags["k"] == "v2" })
	assert.Equal(t, first+1, sc3.Seq)

	b := &sentry.Breadcrumb{Message: "exact"}
	AddBreadcrumb(b)
	assert.False(t, b.Timestamp.IsZero())
	sc4, _, err := Read(path)
	require.NoError(t, err)
	require.NotEmpty(t, sc4.Breadcrumbs)
	assert.Equal(t, "exact", sc4.Breadcrumbs[len(sc4.Breadcrumbs)-1].Message, "in the file at once, no look needed")
	assert.Equal(t, 1, sc4.RingBreadcrumbs)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	stop()

	// The file taken over by the next run is reset: nothing of this run
	// is read as the next one's.
	other := newHub(t, sentry.ClientOptions{})
	other.ConfigureScope(func(s *sentry.Scope) { s.SetTag("run", "next") })
	stop, err = start(path, time.Hour, Settings(), func() *sentry.Hub { return other }, false)
	require.NoError(t, err)
	defer stop()
	sc5 := waitScope(t, path, func(s *report.Scope) bool { return s.Tags["run"] == "next" })
	assert.Equal(t, uint64(1), sc5.Seq)
	assert.Empty(t, sc5.Tags["k"])
	assert.Empty(t, sc5.Breadcrumbs, "the ring is empty again")
}

// TestStartReplacesAForeignFile: a file of another size at the name is
// replaced; a link is never followed.
func TestStartReplacesAForeignFile(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	dir := t.TempDir()
	path := filepath.Join(dir, "x.scope")
	require.NoError(t, os.WriteFile(path, []byte("short"), 0o600))
	stop, err := start(path, time.Hour, Settings(), func() *sentry.Hub { return hub }, false)
	require.NoError(t, err)
	stop()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(FileSize), fi.Size())

	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, make([]byte, FileSize), 0o600))
	link := filepath.Join(dir, "y.scope")
	require.NoError(t, os.Symlink(target, link))
	_, err = start(link, time.Hour, Settings(), func() *sentry.Hub { return hub }, false)
	assert.Error(t, err)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, FileSize), b, "the link's target untouched")
}

// TestParkedSnapshotterWakesOnGCAndBreadcrumb: parked (no timer pending),
// a GC cycle or a breadcrumb makes it look again.
func TestParkedSnapshotterWakesOnGCAndBreadcrumb(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	path := filepath.Join(t.TempDir(), "x.scope")
	stop, err := start(path, time.Millisecond, Settings(), func() *sentry.Hub { return hub }, true)
	require.NoError(t, err)
	defer stop()
	s := active.Load()
	require.NotNil(t, s)
	waitFor(t, s.parked.Load, "parks after idle looks")
	// No GC but ours from here: the parked look must wait for it.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	hub.ConfigureScope(func(s *sentry.Scope) { s.SetTag("after", "park") })
	time.Sleep(20 * time.Millisecond)
	sc, _, err := Read(path)
	require.NoError(t, err)
	assert.Empty(t, sc.Tags["after"], "parked: not looked at without a wake-up")
	runtime.GC()
	waitScope(t, path, func(s *report.Scope) bool { return s.Tags["after"] == "park" })
	waitFor(t, s.parked.Load, "parks again")
	hub.ConfigureScope(func(s *sentry.Scope) { s.SetTag("after", "crumb") })
	AddBreadcrumb(&sentry.Breadcrumb{Message: "wake"})
	waitScope(t, path, func(s *report.Scope) bool { return s.Tags["after"] == "crumb" })
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out: %s", what)
		time.Sleep(time.Millisecond)
	}
}

func waitScope(t *testing.T, path string, ok func(*report.Scope) bool) *report.Scope {
	t.Helper()
	var sc *report.Scope
	waitFor(t, func() bool {
		s, _, err := Read(path)
		if err == nil && s != nil && ok(s) {
			sc = s
			return true
		}
		return false
	}, "snapshot")
	return sc
}

// TestSameSeesEveryChange: the cheap comparison that skips unchanged looks
// notices each kind of change a program makes through sentry-go.
func TestSameSeesEveryChange(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	hub.ConfigureScope(func(s *sentry.Scope) {
		s.SetTag("a", "1")
		s.SetUser(sentry.User{ID: "u", Data: map[string]string{"k": "v"}})
		s.SetContext("c", sentry.Context{"n": 1, "nested": map[string]any{"x": 1}})
		s.SetLevel(sentry.LevelInfo)
		s.SetFingerprint([]string{"f"})
	})
	hub.AddBreadcrumb(&sentry.Breadcrumb{Message: "b"}, nil)
	read := func() *raw {
		r, err := readRaw(hub)
		require.NoError(t, err)
		return r
	}
	prev := read()
	require.True(t, read().same(prev), "nothing changed")
	for name, change := range map[string]func(*sentry.Scope){
		"tag value":      func(s *sentry.Scope) { s.SetTag("a", "2") },
		"tag added":      func(s *sentry.Scope) { s.SetTag("b", "1") },
		"tag removed":    func(s *sentry.Scope) { s.RemoveTag("a") },
		"user":           func(s *sentry.Scope) { s.SetUser(sentry.User{ID: "w", Data: map[string]string{"k": "v"}}) },
		"user data":      func(s *sentry.Scope) { s.SetUser(sentry.User{ID: "u", Data: map[string]string{"k": "w"}}) },
		"context value":  func(s *sentry.Scope) { s.SetContext("c", sentry.Context{"n": 2, "nested": map[string]any{"x": 1}}) },
		"context nested": func(s *sentry.Scope) { s.SetContext("c", sentry.Context{"n": 1, "nested": map[string]any{"x": 2}}) },
		"context added":  func(s *sentry.Scope) { s.SetContext("d", sentry.Context{}) },
		"level":          func(s *sentry.Scope) { s.SetLevel(sentry.LevelError) },
		"fingerprint":    func(s *sentry.Scope) { s.SetFingerprint([]string{"g"}) },
		"breadcrumb":     func(s *sentry.Scope) { s.AddBreadcrumb(&sentry.Breadcrumb{Message: "b"}, 100) },
		"cleared":        func(s *sentry.Scope) { s.ClearBreadcrumbs() },
	} {
		t.Run(name, func(t *testing.T) {
			hub.PushScope()
			defer hub.PopScope()
			before := read()
			hub.ConfigureScope(change)
			assert.False(t, read().same(before), name)
		})
	}
}

// TestConcurrentBreadcrumbs: goroutines adding breadcrumbs at once each
// get their own ring entry; the ring holds the last ones, all whole.
func TestConcurrentBreadcrumbs(t *testing.T) {
	hub := newHub(t, sentry.ClientOptions{})
	path := filepath.Join(t.TempDir(), "x.scope")
	stop, err := start(path, time.Hour, Settings(), func() *sentry.Hub { return hub }, false)
	require.NoError(t, err)
	defer stop()
	const workers, each = 8, 100
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				AddBreadcrumb(&sentry.Breadcrumb{Message: fmt.Sprintf("w%d-%d", w, i), Data: map[string]any{"i": i}})
			}
		}()
	}
	for range workers {
		<-done
	}
	m := active.Load().m
	assert.Equal(t, uint64(workers*each), ne.Uint64(m[ringOff:]))
	es := m.ringEntriesRead()
	// Of the last ringEntries claimed, each writer still in flight can
	// lose one: a writer that claimed number n and is descheduled before
	// it copies may meet the writer of n+ringEntries in the same slot, and
	// the torn slot fails its CRC (QEMU's slow threads showed it: 127 of
	// 128). What is read is never garbage and never twice.
	assert.GreaterOrEqual(t, len(es), ringEntries-workers, "the last ringEntries, every one whole")
	assert.LessOrEqual(t, len(es), ringEntries)
	seen := map[string]bool{}
	for _, p := range es {
		c, _, ok := decodeCrumb(p)
		require.True(t, ok)
		assert.False(t, seen[c.Message], "each once")
		seen[c.Message] = true
	}
}
