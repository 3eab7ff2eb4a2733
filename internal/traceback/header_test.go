package traceback

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestParseGoroutineHeader(t *testing.T) {
	for line, want := range map[string]report.Goroutine{
		"goroutine 1 [running]:":                                      {ID: 1, State: "running"},
		"goroutine 7 [chan receive, 3 minutes]:":                      {ID: 7, State: "chan receive", WaitMinutes: 3},
		"goroutine 5 [select, locked to thread]:":                     {ID: 5, State: "select", Locked: true},
		"goroutine 9 [chan receive, 12 minutes, locked to thread]:":   {ID: 9, State: "chan receive", WaitMinutes: 12, Locked: true},
		"goroutine 1 gp=0xc000002380 m=0 mp=0x62ab40 [running]:":      {ID: 1, State: "running"},
		"goroutine 9 gp=0xc000003500 m=nil [GC sweep wait]:":          {ID: 9, State: "GC sweep wait"},
		"goroutine 0 gp=0x3f517db841e0 m=4 mp=0x3f517db80008 [idle]:": {ID: 0, State: "idle"},
		"goroutine 4 [sleep (durable), synctest bubble 1]:":           {ID: 4, State: "sleep (durable)"},
		"goroutine 8 [chan receive (scan)]:":                          {ID: 8, State: "chan receive (scan)"},
		"goroutine 10 [chan receive (nil chan)]:":                     {ID: 10, State: "chan receive (nil chan)"},
		"goroutine 11 [sync.WaitGroup.Wait (leaked)]:":                {ID: 11, State: "sync.WaitGroup.Wait (leaked)"},
		"goroutine 9223372036854775807 [running]:":                    {ID: 9223372036854775807, State: "running"},
		// With labels: labels_test.go.
	} {
		g, ok := parseGoroutineHeader(line)
		assert.True(t, ok, line)
		assert.Equal(t, want, g, line)
	}
	for _, line := range []string{
		"goroutine",
		"goroutine x [running]:",
		"goroutine 1 running",
		"goroutine 1 [running]",
		"goroutine 99999999999999999999 [running]:",
		"goroutine running on other thread; stack unavailable",
	} {
		_, ok := parseGoroutineHeader(line)
		assert.False(t, ok, line)
	}
}

func TestParseCreatedBy(t *testing.T) {
	f, parent := parseCreatedBy("created by main.main in goroutine 1")
	assert.Equal(t, report.Frame{Function: "main.main", Package: "main"}, f)
	assert.Equal(t, int64(1), parent)

	// Before Go 1.21 there was no "in goroutine N".
	f, parent = parseCreatedBy("created by net/http.(*Server).Serve")
	assert.Equal(t, report.Frame{Function: "net/http.(*Server).Serve", Package: "net/http"}, f)
	assert.Zero(t, parent)
}
