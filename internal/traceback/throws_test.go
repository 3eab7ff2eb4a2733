package traceback

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/traceback/internal/throwscan"
)

// TestThrowTableMatchesGOROOT scans the runtime sources of the Go in use
// for throw and fatal calls and fails for every one that throws_gen.go does
// not list at that function, file and line with that message: a new Go
// release that adds or moves a throw fails here instead of silently losing
// its message. Regenerate with the release added to the go:generate line
// in throws.go.
func TestThrowTableMatchesGOROOT(t *testing.T) {
	goroot := goEnv(t, "GOROOT")
	if _, err := os.Stat(filepath.Join(goroot, "src", "runtime", "panic.go")); err != nil {
		t.Skipf("GOROOT %s has no runtime sources: %v", goroot, err)
	}
	sites, err := throwscan.Scan(goroot)
	require.NoError(t, err)
	release := throwscan.Release(goroot)
	var missing []string
	for _, s := range sites {
		found := false
		for _, c := range throwCallsOf(s.Func) {
			if c.file == s.File && c.msg == s.Message && c.prefix == s.Prefix && c.fatal == s.Fatal &&
				strings.Contains(c.lines, ","+strconv.Itoa(s.Line)+",") {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, s.Func+" "+s.File+":"+strconv.Itoa(s.Line)+" "+strconv.Quote(s.Message))
		}
	}
	assert.Empty(t, missing, "%d throw calls of %s (%s) are not in throws_gen.go (made from %v): "+
		"add %s to the go:generate line in throws.go and run go generate ./internal/traceback/",
		len(missing), release, goroot, throwReleases, release)
	assert.Greater(t, len(sites), 800, "throw calls found in %s", goroot)
	if !slices.Contains(throwReleases[:], release) {
		t.Logf("%s is not among the table's releases %v, but throws nothing it lacks", release, throwReleases)
	}

	// The hand-kept table says which of a function's throws a program can
	// reach; each entry must still be one of that function's throws.
	for fn, msg := range throwerMessages {
		var texts []string
		for _, c := range throwCallsOf(fn) {
			texts = append(texts, strings.TrimRight(c.msg, ": "))
		}
		assert.Contains(t, texts, msg, "throwerMessages[%q]", fn)
	}
}

func TestThrowTable(t *testing.T) {
	require.True(t, slices.IsSortedFunc(throwCalls[:], func(a, b throwCall) int { return strings.Compare(a.fn, b.fn) }))
	// The throws the runtime's test programs die of (issue 12), by call site.
	for _, tc := range []struct {
		fn, file string
		line     int
		msg      string
	}{
		{"runtime.coroswitch_m", "coro.go", 128, "coro: OS thread locking must match locking at coroutine creation"},
		{"runtime.(*mspan).reportZombies", "mgcsweep.go", 893, "found pointer to free object"},
		{"runtime.checkmcount", "proc.go", 0, "thread exhaustion"},
		{"runtime.(*unwinder).next", "traceback.go", 475, "unknown caller pc"},
		{"runtime.gdestroy", "proc.go", 4549, "runtime.Goexit called in a thread that was not created by the Go runtime"},
		{"sync.runtime_notifyListNotifyAll", "sema.go", 658, "semaphore wake of synctest goroutine from outside bubble"},
	} {
		if tc.line == 0 {
			m, ok := onlyThrow(tc.fn, false)
			assert.True(t, ok, tc.fn)
			assert.Equal(t, tc.msg, m, tc.fn)
			continue
		}
		th, ok := throwAt(&report.Frame{Function: tc.fn, File: "/go/src/runtime/" + tc.file, Line: tc.line})
		assert.True(t, ok, tc.fn)
		assert.Equal(t, tc.msg, th.msg, tc.fn)
		assert.False(t, th.prefix, tc.fn)
	}
	th, _ := throwAt(&report.Frame{Function: "sync.runtime_notifyListNotifyAll", File: "sema.go", Line: 658})
	assert.True(t, th.fatal, "synctest's wake from outside the bubble is a fatal")
	// preprintpanics.func1 builds its message: the table has how it starts.
	msgs, dynamic := throwMessages("runtime.preprintpanics.func1")
	assert.Empty(t, msgs)
	assert.True(t, dynamic)
	th, ok := throwAt(&report.Frame{Function: "runtime.preprintpanics.func1", File: "panic.go", Line: 711})
	assert.True(t, ok)
	assert.Equal(t, thrown{msg: "panic while printing panic value: type", prefix: true}, th)
}
