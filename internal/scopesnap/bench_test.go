package scopesnap

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// typicalHub is a hub whose scope has 10 tags, a user, 3 contexts and 100
// breadcrumbs of realistic size (the typical scope).
func typicalHub(b *testing.B, opts sentry.ClientOptions) *sentry.Hub {
	c, err := sentry.NewClient(opts)
	if err != nil {
		b.Fatal(err)
	}
	hub := sentry.NewHub(c, sentry.NewScope())
	hub.ConfigureScope(func(s *sentry.Scope) {
		for i := range 10 {
			s.SetTag(fmt.Sprintf("tag%d", i), fmt.Sprintf("value-%d", i))
		}
		s.SetUser(sentry.User{ID: "user-42", Email: "ada@example.com", Username: "ada"})
		s.SetContext("order", sentry.Context{"id": 1234, "total": "99.90", "items": 3})
		s.SetContext("tenant", sentry.Context{"id": "t-9", "plan": "enterprise"})
		s.SetContext("feature_flags", sentry.Context{"new_checkout": true, "beta": false})
	})
	for i := range 100 {
		hub.AddBreadcrumb(&sentry.Breadcrumb{Type: "http", Category: "http.client", Message: fmt.Sprintf("GET https://api.example.com/v1/items/%d", i),
			Data: map[string]any{"method": "GET", "status_code": 200, "url": fmt.Sprintf("https://api.example.com/v1/items/%d", i)}}, nil)
	}
	return hub
}

func newSnap(b *testing.B, hub *sentry.Hub) *snapshotter {
	m := make(mem, FileSize)
	m.initHeader([]byte(`{}`))
	return &snapshotter{m: m, hub: func() *sentry.Hub { return hub }, sampler: newSampler()}
}

// BenchmarkSnapshot is one look at a typical scope: "changed" reads,
// encodes, hashes and writes it; "unchanged" reads and compares it and
// only records the time (what almost every look does).
func BenchmarkSnapshot(b *testing.B) {
	hub := typicalHub(b, sentry.ClientOptions{})
	b.Run("changed", func(b *testing.B) {
		s := newSnap(b, hub)
		b.ReportAllocs()
		for b.Loop() {
			s.last, s.lastHash = nil, 0 // as if it changed (a new tag)
			s.snapshot(time.Now())
		}
		b.ReportMetric(float64(len(encodeScope(must(readScope(hub)), time.Now(), scopeSlotSize))), "payload-bytes")
	})
	b.Run("changed-first", func(b *testing.B) {
		s := newSnap(b, hub)
		b.ReportAllocs()
		for b.Loop() {
			s.last, s.lastHash, s.crumbs = nil, 0, nil // no breadcrumb encoded yet
			s.snapshot(time.Now())
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		s := newSnap(b, hub)
		s.snapshot(time.Now())
		b.ReportAllocs()
		for b.Loop() {
			s.snapshot(time.Now())
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkSetTagLoop is a program calling SetTag in a tight loop on the
// global-style hub, without a snapshotter and with one looking every
// second (the default) and every millisecond (a thousand times more often,
// to show what the lock sharing costs at all). The scope is the typical
// one, so each look holds its read lock for a real copy.
func BenchmarkSetTagLoop(b *testing.B) {
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"without", 0}, {"with-1s", time.Second}, {"with-1ms", time.Millisecond}} {
		b.Run(c.name, func(b *testing.B) {
			hub := typicalHub(b, sentry.ClientOptions{})
			if c.every > 0 {
				stop, err := start(filepath.Join(b.TempDir(), "x.scope"), c.every, Settings(), func() *sentry.Hub { return hub }, false)
				if err != nil {
					b.Fatal(err)
				}
				defer stop()
			}
			scope := hub.Scope()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				scope.SetTag("counter", tagValues[i&1023])
				i++
			}
		})
	}
}

var tagValues = func() []string {
	v := make([]string, 1024)
	for i := range v {
		v[i] = fmt.Sprint(i)
	}
	return v
}()

// BenchmarkBreadcrumb is sentry-go's Hub.AddBreadcrumb with and without
// crashguard's hook writing into the ring.
func BenchmarkBreadcrumb(b *testing.B) {
	for _, hook := range []bool{false, true} {
		b.Run(map[bool]string{false: "without-hook", true: "with-hook"}[hook], func(b *testing.B) {
			opts := sentry.ClientOptions{}
			if hook {
				opts.BeforeBreadcrumb = func(bc *sentry.Breadcrumb, _ *sentry.BreadcrumbHint) *sentry.Breadcrumb {
					AddBreadcrumb(bc)
					return bc
				}
				stop, err := start(filepath.Join(b.TempDir(), "x.scope"), time.Hour, Settings(), sentry.CurrentHub, false)
				if err != nil {
					b.Fatal(err)
				}
				defer stop()
			}
			hub := typicalHub(b, opts)
			b.ReportAllocs()
			for b.Loop() {
				hub.AddBreadcrumb(&sentry.Breadcrumb{Type: "http", Category: "http.client", Message: "GET https://api.example.com/v1/items/7",
					Data: map[string]any{"method": "GET", "status_code": 200}}, nil)
			}
		})
	}
}

// BenchmarkInstallPath is what Install pays (Settings) against what is
// left to the background (the cgroup reads, the file's creation).
func BenchmarkInstallPath(b *testing.B) {
	b.Run("settings", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Settings()
		}
	})
	b.Run("cgroup-reads", func(b *testing.B) {
		for b.Loop() {
			_ = readCgroup()
		}
	})
	b.Run("create-file", func(b *testing.B) {
		dir := b.TempDir()
		n := 0
		for b.Loop() {
			n++
			if _, _, err := create(filepath.Join(dir, fmt.Sprint(n))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("runtime-sample", func(b *testing.B) {
		s := newSampler()
		b.ReportAllocs()
		for b.Loop() {
			_ = s.sample(time.Now())
		}
	})
}
