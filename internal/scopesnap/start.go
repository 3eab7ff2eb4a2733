package scopesnap

import (
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Defaults of Start.
const (
	// DefaultEvery is how often the scope is looked at.
	DefaultEvery = time.Second
	// metricsEvery is how many looks apart runtime/metrics samples are.
	metricsEvery = 5
	// idleLooks is how many looks in a row must find the scope unchanged
	// before the snapshotter parks (see Start).
	idleLooks = 10
)

// snapshotter owns one process's mapping.
type snapshotter struct {
	m       mem
	hub     func() *sentry.Hub
	every   time.Duration
	park    bool // park when idle (parkWhenIdle, or a test's choice)
	wake    chan struct{}
	parked  atomic.Bool
	stopped atomic.Bool
	stop    chan struct{}
	done    chan struct{}

	seq      uint64 // scope snapshots written
	last     *raw   // the scope as last read
	crumbs   crumbCache
	lastHash uint64 // of the last encoding written
	mseq     uint64 // metrics samples written
	sampler  *sampler
	looks    int // since the last metrics sample
}

// Start creates the scope file at path (runfile's ScopeName beside the
// run; the file runfile took over from a dead clean run is reset and used
// instead), records settings there with the cgroup limits, and snapshots the
// sentry-go global hub's scope every `every` (DefaultEvery when 0) into
// it, only when it changed, with a runtime/metrics sample every fifth
// look. It also makes AddBreadcrumb write into the file's ring. Call it
// from a background goroutine: creating and allocating the file costs a
// file creation. stop ends the snapshots (the mapping stays until the
// process ends: a BeforeBreadcrumb hook may still be writing into it).
//
// Go's deadlock detector stays silent while a timer is pending, so in a
// binary without cgo (where the detector works; with cgo it never fires)
// the snapshotter stops its timer after ten looks in a row found the
// scope unchanged, and looks again at each GC cycle (Go forces one at
// least every two minutes), at each AddBreadcrumb, and then goes back to
// one look per `every` while the scope keeps changing. A program that
// deadlocks still gets its "all goroutines are asleep" crash, about ten
// seconds later at most.
func Start(path string, every time.Duration, settings report.RuntimeSettings) (stop func(), err error) {
	return start(path, every, settings, sentry.CurrentHub, parkWhenIdle)
}

func start(path string, every time.Duration, settings report.RuntimeSettings, hub func() *sentry.Hub, park bool) (func(), error) {
	if every <= 0 {
		every = DefaultEvery
	}
	m, reused, err := create(path)
	if err != nil {
		return func() {}, err
	}
	if reused {
		m.reset()
	}
	settings.Cgroup = readCgroup()
	addBuild(&settings)
	js, _ := json.Marshal(settings)
	if len(js) > maxSettings {
		// Long -ldflags or GODEBUG: the build settings go, the rest stays.
		settings.BuildSettings = map[string]string{"crashguard": "build settings too long to keep"}
		js, _ = json.Marshal(settings)
	}
	m.initHeader(js)
	s := &snapshotter{m: m, hub: hub, every: every, park: park, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), sampler: newSampler()}
	active.Store(s)
	if park {
		armGC(s)
	}
	go s.loop()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.stopped.Store(true)
			active.CompareAndSwap(s, nil)
			close(s.stop)
			<-s.done
		})
	}, nil
}

// nudge wakes a parked snapshotter; nothing when it is not parked.
func (s *snapshotter) nudge() {
	if s.parked.Load() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// gcSentinel's finalizer runs once per GC cycle and arms the next.
type gcSentinel struct {
	s *snapshotter
	_ [16]byte // not a tiny allocation: those are finalized late or never
}

func armGC(s *snapshotter) {
	runtime.SetFinalizer(&gcSentinel{s: s}, func(g *gcSentinel) {
		if g.s.stopped.Load() {
			return
		}
		g.s.nudge()
		armGC(g.s)
	})
}

func (s *snapshotter) loop() {
	defer close(s.done)
	timer := time.NewTimer(0)
	<-timer.C
	unchanged := 0
	last := time.Time{}
	for {
		now := time.Now()
		if s.look(now) {
			unchanged = 0
		} else {
			unchanged++
		}
		last = now
		if s.park && unchanged >= idleLooks {
			// Parked: no timer pending (the last one fired).
			s.parked.Store(true)
			select {
			case <-s.wake:
			case <-s.stop:
				return
			}
			s.parked.Store(false)
			// A GC storm wakes us often: still at most one look per every.
			if d := s.every - time.Since(last); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-s.stop:
					return
				}
			}
			continue
		}
		timer.Reset(s.every)
		select {
		case <-timer.C:
		case <-s.stop:
			timer.Stop()
			return
		}
	}
}

// look snapshots the scope when it changed, and the runtime every
// metricsEvery looks. It reports whether the scope changed.
func (s *snapshotter) look(now time.Time) bool {
	if s.looks%metricsEvery == 0 {
		s.writeMetrics(now)
	}
	s.looks++
	return s.snapshot(now)
}

// snapshot writes the scope into the next slot if it differs from the last
// one written; otherwise it records that the last one is still current.
// Telling "unchanged" costs a read of the scope and a comparison (raw.same);
// only a change is encoded, and written if its encoding differs.
func (s *snapshotter) snapshot(now time.Time) bool {
	r, err := readRaw(s.hub())
	if err != nil || r == nil {
		return false
	}
	if s.seq > 0 && r.same(s.last) {
		s.m.setChecked(s.seq, now.UnixNano())
		return false
	}
	s.last = r
	p, cache := r.encode(now, scopeSlotSize-slotHead, s.crumbs)
	s.crumbs = cache
	if p == nil {
		return false
	}
	h := hashOf(p[8:])
	if s.seq > 0 && h == s.lastHash {
		s.m.setChecked(s.seq, now.UnixNano())
		return false
	}
	s.seq++
	s.m.writeSlot(scopeOff+int(s.seq%2)*scopeSlotSize, scopeSlotSize, s.seq, p)
	s.m.setChecked(s.seq, now.UnixNano())
	s.lastHash = h
	return true
}

func (s *snapshotter) writeMetrics(now time.Time) {
	js, err := json.Marshal(s.sampler.sample(now))
	if err != nil {
		return
	}
	s.mseq++
	s.m.writeSlot(metricsOff+int(s.mseq%2)*metricsSlotSize, metricsSlotSize, s.mseq, js)
}
