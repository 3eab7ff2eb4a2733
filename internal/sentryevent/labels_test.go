package sentryevent

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// labelledReport is panicReport with labels on both goroutines, and a
// scope tag the crashed goroutine's label overrides.
func labelledReport() *report.Report {
	r := panicReport()
	r.Goroutines[0].Labels = map[string]string{"request_id": "r-17", "user": "u\"q\n\t\x01 ä"}
	r.Goroutines[1].Labels = map[string]string{"worker": "w-1"}
	r.Scope = &report.Scope{Tags: map[string]string{"label.request_id": "from scope", "region": "eu"}}
	return r
}

func buildMap(t *testing.T, r *report.Report, opts Options) map[string]any {
	t.Helper()
	body, err := Build(r, opts)
	require.NoError(t, err)
	requireValidEvent(t, body)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(body, &ev))
	return ev
}

func threadNames(ev map[string]any) []string {
	var names []string
	th, _ := ev["threads"].(map[string]any)
	values, _ := th["values"].([]any)
	for _, v := range values {
		names = append(names, v.(map[string]any)["name"].(string))
	}
	return names
}

func TestLabelsInEvent(t *testing.T) {
	ev := buildMap(t, labelledReport(), Options{})
	assert.Equal(t, map[string]any{
		"label.request_id": "r-17",
		"label.user":       "u\"q    ä", // control characters as spaces
		"region":           "eu",
		"team":             "core", // Options.Sentry.Tags, in baseProcess
	}, ev["tags"])
	ctx := ev["contexts"].(map[string]any)
	assert.Equal(t, map[string]any{
		"id":     float64(1),
		"labels": map[string]any{"request_id": "r-17", "user": "u\"q\n\t\x01 ä"},
	}, ctx["goroutine"])
	assert.Equal(t, []string{
		`goroutine 1 [running] labels:{"request_id": "r-17", "user": "u\"q\n\t\x01 ä"}`,
		`goroutine 7 [chan receive, 3 minutes] labels:{"worker": "w-1"}`,
	}, threadNames(ev))

	// No labels: no tag, no context, names as before.
	ev = buildMap(t, panicReport(), Options{})
	assert.NotContains(t, ev["contexts"], "goroutine")
	assert.Equal(t, []string{"goroutine 1 [running]", "goroutine 7 [chan receive, 3 minutes]"}, threadNames(ev))

	// Labels only on another goroutine: only its thread has them.
	r := panicReport()
	r.Goroutines[1].Labels = map[string]string{"worker": "w-1"}
	ev = buildMap(t, r, Options{})
	assert.NotContains(t, ev["contexts"], "goroutine")
	assert.Equal(t, map[string]any{"team": "core"}, ev["tags"])

	// Unparsed labels: in the context and the name as printed, no tag.
	r = panicReport()
	r.Goroutines[0].LabelsUnparsed = "labels:{k=v}"
	ev = buildMap(t, r, Options{})
	assert.Equal(t, map[string]any{"id": float64(1), "labels_unparsed": "labels:{k=v}"}, ev["contexts"].(map[string]any)["goroutine"])
	assert.Equal(t, "goroutine 1 [running] labels:{k=v}", threadNames(ev)[0])
}

func TestLabelTags(t *testing.T) {
	long := strings.Repeat("é", 300)
	tags := labelTags(map[string]string{
		"a b":       "1", // → label.a_b, taken before "a_b" (key order)
		"a_b":       "2",
		"empty":     "",
		"long":      long,
		"newline":   "x\ny",
		"ok.k:v-1":  "v",
		long:        "k",
		"日本":        "jp",
		"ascii-200": strings.Repeat("x", 200),
	})
	assert.Equal(t, "1", tags["label.a_b"])
	assert.NotContains(t, tags, "label.empty")
	assert.Equal(t, "x y", tags["label.newline"])
	assert.Equal(t, "v", tags["label.ok.k:v-1"])
	assert.Equal(t, "jp", tags["label.__"])
	assert.Equal(t, strings.Repeat("x", 200), tags["label.ascii-200"])
	v := tags["label.long"]
	assert.Equal(t, 200, utf8.RuneCountInString(v))
	assert.True(t, strings.HasSuffix(v, "é…"))
	for k, v := range tags {
		assert.LessOrEqual(t, utf8.RuneCountInString(k), 200, k)
		assert.LessOrEqual(t, utf8.RuneCountInString(v), 200, k)
		assert.NotContains(t, v, "\n")
		assert.NotEmpty(t, v)
	}
	assert.Len(t, tags, 7)
}

// TestLabelsFolded: over the budget, goroutines with the same state and
// stack fold whatever their labels (a server's request goroutines differ
// in nothing else), the first one's name with its labels; the crashed
// goroutine stays whole with its own.
func TestLabelsFolded(t *testing.T) {
	r := labelledReport()
	other := r.Goroutines[1]
	r.Goroutines = r.Goroutines[:1]
	for i := 0; i < 3000; i++ {
		g := other
		g.ID = int64(100 + i)
		g.Labels = map[string]string{"request_id": fmt.Sprintf("r-%d", i)}
		g.Frames = append([]report.Frame(nil), other.Frames...)
		for j := 0; j < 8; j++ {
			g.Frames = append(g.Frames, report.Frame{Function: "example.com/app.deep", Package: "example.com/app",
				File: "/src/app/deep.go", Line: 10 + j, InApp: true})
		}
		r.Goroutines = append(r.Goroutines, g)
	}
	ev := buildMap(t, r, Options{MaxEventSize: MinEventBudget})
	names := threadNames(ev)
	require.Len(t, names, 2, "folded into one thread besides the crashed one")
	assert.Equal(t, `goroutine 1 [running] labels:{"request_id": "r-17", "user": "u\"q\n\t\x01 ä"}`, names[0])
	assert.True(t, strings.HasPrefix(names[1], `goroutine 100 [chan receive, 3 minutes] labels:{"request_id": "r-0"} + 2999 more with this stack`), names[1])
}

func TestLabelsSuffixCapped(t *testing.T) {
	g := &report.Goroutine{ID: 1, Labels: map[string]string{}}
	for i := 0; i < 100; i++ {
		g.Labels[fmt.Sprintf("k%03d", i)] = strings.Repeat("v", 50)
	}
	s := labelsSuffix(g)
	assert.LessOrEqual(t, len(s), maxNameLabels+len(" labels:{")+len("…}"))
	assert.True(t, strings.HasSuffix(s, `", …}`), s)
	assert.True(t, goroutineNameRE().MatchString(goroutineName(g)))
	assert.Equal(t, " x…", " "+cutBytes("xé", 2))
}
