package scopesnap

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSettings(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	s := Settings()
	assert.Equal(t, -1, s.GOGC, "GOGC=off")
	assert.Equal(t, int64(3<<30), s.GOMEMLIMIT)
	assert.Equal(t, runtime.GOMAXPROCS(0), s.GOMAXPROCS)
	assert.Equal(t, runtime.NumCPU(), s.NumCPU)
	debug.SetGCPercent(75)
	assert.Equal(t, 75, Settings().GOGC)
	assert.Nil(t, s.BuildSettings, "read in the background")
	addBuild(&s)
	assert.NotEmpty(t, s.BuildSettings["GOOS"]+s.BuildSettings["-compiler"], "%v", s.BuildSettings)
	for k := range s.BuildSettings {
		assert.NotContains(t, k, "vcs", "vcs settings are Process.Build's")
	}
}

func TestSample(t *testing.T) {
	runtime.GC()
	s := newSampler().sample(time.Now())
	assert.NotZero(t, s.HeapInUse)
	assert.NotZero(t, s.HeapGoal)
	assert.GreaterOrEqual(t, s.TotalMemory, s.HeapInUse)
	assert.NotZero(t, s.Goroutines)
	assert.NotZero(t, s.GCCycles)
	assert.False(t, s.LastGC.IsZero())
	assert.WithinDuration(t, time.Now(), s.LastGC, time.Minute)
	assert.Equal(t, runtime.GOMAXPROCS(0), s.GOMAXPROCS)
}
