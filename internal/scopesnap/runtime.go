package scopesnap

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Settings returns the Go runtime's settings now, for the run's record of
// what it was started with. Cheap enough for Install (under 1 µs): no file
// is read and nothing is changed (GOGC and GOMEMLIMIT come from
// runtime/metrics, not from debug.SetGCPercent(-1)-style calls that would
// change them for a moment). What is fixed for the process or the binary
// and costs more to read — the cgroup limits (file reads) and the build
// settings (debug.ReadBuildInfo) — Start adds in the background.
func Settings() report.RuntimeSettings {
	s := report.RuntimeSettings{
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		GODEBUG:    os.Getenv("GODEBUG"),
		GOGC:       100,
	}
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(samples)
	if v := samples[0].Value; v.Kind() == metrics.KindUint64 {
		// GOGC=off is the runtime's -1, which the metric reports as a
		// uint64.
		if n := v.Uint64(); n > 1<<31 {
			s.GOGC = -1
		} else {
			s.GOGC = int(n)
		}
	}
	if v := samples[1].Value; v.Kind() == metrics.KindUint64 {
		s.GOMEMLIMIT = int64(v.Uint64())
	}
	return s
}

// addBuild adds the executable's build settings to s: fixed for the
// binary, so read in the background (debug.ReadBuildInfo parses the
// module data at each call) rather than on Install's path.
func addBuild(s *report.RuntimeSettings) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	for _, st := range info.Settings {
		switch {
		case st.Key == "DefaultGODEBUG":
			s.DefaultGODEBUG = st.Value
		case strings.HasPrefix(st.Key, "vcs"):
		default:
			if s.BuildSettings == nil {
				s.BuildSettings = map[string]string{}
			}
			s.BuildSettings[st.Key] = st.Value
		}
	}
}

// sampler reads runtime/metrics into a reused slice: no allocation per
// sample. The last GC time is not a runtime metric; it comes from
// debug.ReadGCStats (under the heap lock, no stop-the-world).
type sampler struct {
	samples []metrics.Sample
	gc      debug.GCStats
}

var sampleNames = []string{
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/goal:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
	"/sched/gomaxprocs:threads",
}

func newSampler() *sampler {
	s := &sampler{samples: make([]metrics.Sample, len(sampleNames))}
	for i, n := range sampleNames {
		s.samples[i].Name = n
	}
	// Room for the pause history and its end times: reused, never grown.
	s.gc.Pause = make([]time.Duration, 0, 1024)
	return s
}

func (s *sampler) sample(now time.Time) report.RuntimeSample {
	metrics.Read(s.samples)
	u := func(i int) uint64 {
		if v := s.samples[i].Value; v.Kind() == metrics.KindUint64 {
			return v.Uint64()
		}
		return 0
	}
	r := report.RuntimeSample{
		Taken:       now,
		HeapInUse:   u(0),
		HeapGoal:    u(1),
		TotalMemory: u(2),
		Goroutines:  u(3),
		GCCycles:    u(4),
		GOMAXPROCS:  int(u(5)),
	}
	debug.ReadGCStats(&s.gc)
	if !s.gc.LastGC.IsZero() && s.gc.NumGC > 0 {
		r.LastGC = s.gc.LastGC
	}
	return r
}
