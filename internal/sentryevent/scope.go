package sentryevent

import (
	"maps"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// applyScope gives ev what the crashing process's sentry-go scope and
// runtime recorded (internal/scopesnap), before BeforeSend sees it.
//
// The scope is applied as sentry-go's Scope.ApplyToEvent and its default
// integrations would have applied it to an event captured when the
// snapshot was taken, with the crash's own fields always winning:
//   - breadcrumbs: the scope's (merged with the exact ones of the
//     BeforeBreadcrumb ring), oldest first;
//   - tags: the scope's over Options.Sentry.Tags (the base: sentry-go adds
//     the options' tags only where the scope has none of that key);
//   - user: the scope's, exactly as set with SetUser. sentry-go sends a
//     user the program set itself whatever SendDefaultPII says
//     (SendDefaultPII and DataCollection.UserInfo govern only what it
//     collects on its own), and so does crashguard; crashguard adds no user
//     data of its own (no "{{auto}}" IP address);
//   - contexts: the scope's, except "crashguard", which is crashguard's;
//     for "os", "runtime" and "device" the scope's keys win and the
//     crash's fill the rest, as sentry-go's environment integration fills
//     what the scope left;
//   - fingerprint: the scope's, the crash event having none of its own;
//   - level: always fatal; a scope level is kept in contexts.crashguard.
//
// The snapshot's age at the crash (crash time less the last look that
// found the scope as sent), its sequence number and what was left out go
// to contexts.crashguard.scope; the runtime settings at Install and the
// last runtime/metrics sample, with its age, to contexts.go_runtime (not
// under sentry-go's go_numroutines/go_maxprocs keys of contexts.runtime:
// Sentry's schema closes the runtime context). The process's uptime at the
// crash is contexts.crashguard.uptime_seconds.
func applyScope(ev *sentry.Event, r *report.Report) {
	p := &r.Process
	cg := ev.Contexts["crashguard"]
	if !p.StartTime.IsZero() && !p.CrashTime.IsZero() && !p.CrashTime.Before(p.StartTime) {
		cg["uptime_seconds"] = seconds(p.CrashTime.Sub(p.StartTime))
	}
	if sc := r.Scope; sc != nil {
		scopeInto(ev, sc, cg, p.CrashTime)
	}
	if rt := r.Runtime; rt != nil {
		runtimeInto(ev, rt, p.CrashTime)
	}
}

func scopeInto(ev *sentry.Event, sc *report.Scope, cg sentry.Context, crash time.Time) {
	for _, b := range sc.Breadcrumbs {
		ev.Breadcrumbs = append(ev.Breadcrumbs, &sentry.Breadcrumb{
			Type: b.Type, Category: b.Category, Message: b.Message,
			Data: b.Data, Level: sentry.Level(b.Level), Timestamp: b.Timestamp.UTC(),
		})
	}
	if len(sc.Tags) > 0 && ev.Tags == nil {
		ev.Tags = make(map[string]string, len(sc.Tags))
	}
	maps.Copy(ev.Tags, sc.Tags)
	if u := sc.User; u != nil {
		ev.User = sentry.User{ID: u.ID, Email: u.Email, IPAddress: u.IPAddress,
			Username: u.Username, Name: u.Name, Data: maps.Clone(u.Data)}
	}
	for k, c := range sc.Contexts {
		switch own := ev.Contexts[k]; {
		case k == "crashguard":
		case own == nil:
			ev.Contexts[k] = sentry.Context(maps.Clone(c))
		case k == "os" || k == "runtime" || k == "device":
			merged := sentry.Context(maps.Clone(c))
			for key, v := range own {
				if _, ok := merged[key]; !ok {
					merged[key] = v
				}
			}
			ev.Contexts[k] = merged
		}
	}
	if len(ev.Fingerprint) == 0 && len(sc.Fingerprint) > 0 {
		ev.Fingerprint = append([]string(nil), sc.Fingerprint...)
	}
	info := map[string]any{"seq": sc.Seq}
	if !sc.Taken.IsZero() {
		info["taken"] = sc.Taken.UTC().Format(time.RFC3339Nano)
		if !crash.IsZero() {
			info["age_seconds"] = seconds(crash.Sub(sc.Taken))
		}
	}
	set := func(k string, v any, ok bool) {
		if ok {
			info[k] = v
		}
	}
	set("level", sc.Level, sc.Level != "" && sc.Level != string(sentry.LevelFatal))
	set("breadcrumbs", len(sc.Breadcrumbs), len(sc.Breadcrumbs) > 0)
	set("ring_breadcrumbs", sc.RingBreadcrumbs, sc.RingBreadcrumbs > 0)
	set("breadcrumbs_dropped", sc.BreadcrumbsDropped, sc.BreadcrumbsDropped > 0)
	cg["scope"] = info
}

func runtimeInto(ev *sentry.Event, rt *report.Runtime, crash time.Time) {
	c := sentry.Context{}
	if s := rt.Settings; s != nil {
		c["gomaxprocs_at_start"] = s.GOMAXPROCS
		c["num_cpu"] = s.NumCPU
		c["gogc"] = s.GOGC
		if s.GOMEMLIMIT > 0 && s.GOMEMLIMIT < 1<<62 {
			c["gomemlimit"] = s.GOMEMLIMIT
		}
		if s.GODEBUG != "" {
			c["godebug"] = s.GODEBUG
		}
		if s.DefaultGODEBUG != "" {
			c["default_godebug"] = s.DefaultGODEBUG
		}
		if len(s.BuildSettings) > 0 {
			c["build_settings"] = s.BuildSettings
		}
		if g := s.Cgroup; g != nil {
			cgroup := map[string]any{"version": g.Version}
			if g.Path != "" {
				cgroup["path"] = g.Path
			}
			if g.MemoryMax > 0 {
				cgroup["memory_max"] = g.MemoryMax
			}
			if g.MemoryHigh > 0 {
				cgroup["memory_high"] = g.MemoryHigh
			}
			if g.CPUQuota > 0 {
				cgroup["cpu_quota"] = g.CPUQuota
			}
			c["cgroup"] = cgroup
		}
	}
	if s := rt.Sample; s != nil {
		c["heap_in_use"] = s.HeapInUse
		c["heap_goal"] = s.HeapGoal
		c["total_memory"] = s.TotalMemory
		c["goroutines"] = s.Goroutines
		c["gc_cycles"] = s.GCCycles
		if !s.LastGC.IsZero() {
			c["last_gc"] = s.LastGC.UTC().Format(time.RFC3339Nano)
		}
		if s.GOMAXPROCS > 0 {
			c["gomaxprocs"] = s.GOMAXPROCS
		}
		if !s.Taken.IsZero() {
			c["sample_taken"] = s.Taken.UTC().Format(time.RFC3339Nano)
			if !crash.IsZero() {
				c["sample_age_seconds"] = seconds(crash.Sub(s.Taken))
			}
		}
	}
	if len(c) > 0 {
		ev.Contexts["go_runtime"] = c
	}
}

// seconds is d in seconds with millisecond precision; never negative (a
// crash time from a coarse clock may precede the last look by a tick).
func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Milliseconds()) / 1000
}
