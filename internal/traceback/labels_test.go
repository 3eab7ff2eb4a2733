package traceback

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

// labelUser is the "user" label of testprogs/gocrash's labels-* modes.
const labelUser = "u\"q\\ \n\t\x01 ä 😀"

var requestLabels = map[string]string{"request_id": "r-17", "user": labelUser}

// TestLabelsRealCrashOutput parses the crash output of real processes that
// died under runtime/pprof labels (testdata/labels, Go 1.26.8,
// GODEBUG=tracebacklabels=1, GOTRACEBACK=all): every goroutine's labels,
// unescaped, and the crashed goroutine's.
func TestLabelsRealCrashOutput(t *testing.T) {
	for _, c := range []struct {
		name    string
		kind    report.Kind
		crashed map[string]string // labels of the crashed goroutine
		// labelled counts goroutines by their "request_id" or "worker" label.
		labelled map[string]int
	}{
		{"labels-goroutine", report.KindPanic, requestLabels, map[string]int{"r-17": 2, "w-1": 1, "w-2": 1}},
		{"labels-map", report.KindFatalError, requestLabels, map[string]int{"r-17": 5, "w-1": 1, "w-2": 1}},
		{"labels-panic", report.KindPanic, nil, map[string]int{"w-1": 1, "w-2": 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "labels", c.name+".crash.txt"))
			require.NoError(t, err)
			r, err := Parse(b)
			require.NoError(t, err)
			assert.Equal(t, c.kind, r.Kind)
			require.NotEmpty(t, r.Goroutines)
			crashed := r.Goroutines[0]
			require.True(t, crashed.Crashed)
			assert.Equal(t, r.CrashedGoroutine, crashed.ID)
			assert.Equal(t, c.crashed, crashed.Labels)
			assert.NotContains(t, crashed.State, "labels")
			got := map[string]int{}
			for _, g := range r.Goroutines {
				assert.Empty(t, g.LabelsUnparsed, "goroutine %d", g.ID)
				assert.NotContains(t, g.State, "label", "goroutine %d", g.ID)
				switch {
				case g.Labels["request_id"] != "":
					assert.Equal(t, requestLabels, g.Labels, "goroutine %d", g.ID)
					got[g.Labels["request_id"]]++
				case g.Labels["worker"] != "":
					assert.Len(t, g.Labels, 1)
					assert.Equal(t, "select (no cases)", g.State)
					got[g.Labels["worker"]]++
				default:
					assert.Nil(t, g.Labels, "goroutine %d", g.ID)
				}
			}
			assert.Equal(t, c.labelled, got)
		})
	}
}

func TestParseGoroutineHeaderLabels(t *testing.T) {
	for line, want := range map[string]report.Goroutine{
		`goroutine 3 [running labels:{"k": "v, w]", "a": "b"}]:`: {ID: 3, State: "running",
			Labels: map[string]string{"k": "v, w]", "a": "b"}},
		`goroutine 3 [select, locked to thread labels:{"k": "v"}]:`: {ID: 3, State: "select", Locked: true,
			Labels: map[string]string{"k": "v"}},
		`goroutine 5 [chan receive, 3 minutes labels:{"a\"]:": ""}]:`: {ID: 5, State: "chan receive", WaitMinutes: 3,
			Labels: map[string]string{`a"]:`: ""}},
		`goroutine 1 gp=0xc000002380 m=0 mp=0x62ab40 [running labels:{"x": "\x1b[0m"}]:`: {ID: 1, State: "running",
			Labels: map[string]string{"x": "\x1b[0m"}},
		// Not the 1.26 form: kept as it was printed, never guessed.
		`goroutine 7 [running labels:{k=v}]:`:        {ID: 7, State: "running", LabelsUnparsed: "labels:{k=v}"},
		`goroutine 7 [running labels:{"k": "ä"}]:`:   {ID: 7, State: "running", LabelsUnparsed: `labels:{"k": "ä"}`},
		`goroutine 7 [running labels:{"k": "v"} x]:`: {ID: 7, State: "running", LabelsUnparsed: `labels:{"k": "v"} x`},
	} {
		g, ok := parseGoroutineHeader(line)
		assert.True(t, ok, line)
		assert.Equal(t, want, g, line)
	}
}

// printquoted is runtime.printquoted (Go 1.26 runtime/print.go) in Go.
func printquoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			switch {
			case r >= ' ' && r <= '~':
				b.WriteRune(r)
			case r < 127:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// printLabels prints labels (keys in the given order) as goroutineheader does.
func printLabels(kv ...string) string {
	var b strings.Builder
	b.WriteString("labels:{")
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(printquoted(kv[i]) + ": " + printquoted(kv[i+1]))
	}
	b.WriteString("}")
	return b.String()
}

func TestParseLabels(t *testing.T) {
	for _, kv := range [][]string{
		{"k", "v"},
		{"", ""},
		{"request_id", "r-17", "user", labelUser},
		{"ctl", "\x00\x1f\x7f\r", "bmp", "\u00e4\u4e16\uffff", "astral", "\U0001f600\U0010ffff"},
		{"tricky", `", "x": "`, "}", "]:", "labels:{", "{}"},
	} {
		text := printLabels(kv...)
		labels, ok := parseLabels(text)
		require.True(t, ok, text)
		want := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			want[kv[i]] = kv[i+1]
		}
		assert.Equal(t, want, labels, text)
	}
	// Invalid UTF-8 is printed as U+FFFD and comes back as that.
	labels, ok := parseLabels(printLabels("k", "a\xffb"))
	require.True(t, ok)
	assert.Equal(t, "a\ufffdb", labels["k"])

	for _, text := range []string{
		`labels:{}`,                   // the runtime leaves an empty set out
		`labels:{"k": "v"`,            // cut
		`labels:{"k": "v}`,            // no closing quote
		`labels:{"k":"v"}`,            // separator
		`labels:{"k": "v","a": "b"}`,  // separator
		`labels:{"k": "v", "k": "w"}`, // a set has each key once
		`labels:{"k": "\a"}`,          // an escape printquoted never prints
		`labels:{"k": "\x41"}`,        // 'A' is printed as is
		`labels:{"k": "\u00E4"}`,      // upper-case hex
		`labels:{"k": "\u0041"}`,      // ASCII as \u
		`labels:{"k": "\x7f"}`,        // DEL is \u007f
		`labels:{"k": "\U000000e4"}`,  // BMP as \U
		`labels:{"k": "\ud800"}`,      // a surrogate
		`labels:{"k": "\U00110000"}`,  // past the last rune
		`labels:{"k": "\u00e"}`,       // short
		"labels:{\"k\": \"\t\"}",      // raw tab
		`labels:{"k": "ä"}`,           // raw non-ASCII
		`labels:{"k": "v"} `,          // trailing text
		`labels:{"k": "v", }`,
		`labels:"k": "v"`,
	} {
		_, ok := parseLabels(text)
		assert.False(t, ok, text)
	}
}

// FuzzParseLabels: whatever the runtime prints for any label set parses
// back to it; any text at all parses without panicking, and what parses
// prints back to text of the same length (the same escapes; the order of
// the pairs aside) that parses to the same labels.
func FuzzParseLabels(f *testing.F) {
	f.Add("k", "v", "request_id", labelUser)
	f.Add("", "\x00", "\U0001f600", "\"}")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		// The runtime ranges over the string: U+FFFD for each bad byte.
		fix := func(s string) string {
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		text := printLabels(k1, v1, k2, v2)
		labels, ok := parseLabels(text)
		if fix(k1) == fix(k2) {
			// Two keys printed alike (the same key, or invalid UTF-8
			// that became the same U+FFFD): which value is whose is
			// unknown, so the text is kept unparsed.
			assert.False(t, ok, text)
		} else {
			require.True(t, ok, text)
			assert.Equal(t, fix(v1), labels[fix(k1)], text)
			assert.Equal(t, fix(v2), labels[fix(k2)], text)
		}
		for _, junk := range []string{k1 + v1, text[:len(text)/2], strings.Replace(text, "\\", "", 1)} {
			if got, ok := parseLabels(junk); ok {
				keys := make([]string, 0, len(got))
				for k := range got {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				var kv []string
				for _, k := range keys {
					kv = append(kv, k, got[k])
				}
				// The runtime prints a set sorted by key; junk may not be.
				again, ok := parseLabels(printLabels(kv...))
				assert.True(t, ok)
				assert.Equal(t, got, again)
				assert.Len(t, printLabels(kv...), len(junk), junk)
			}
		}
	})
}
