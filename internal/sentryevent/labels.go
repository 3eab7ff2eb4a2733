package sentryevent

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Goroutine labels (runtime/pprof, printed by Go 1.26+ with
// GODEBUG=tracebacklabels=1, by default for modules declaring go 1.27 or
// later) go into the event in three places:
//
//   - tags: each label K=V of the crashed goroutine is the tag
//     "label.K" = V, over a tag of the same key from the scope or
//     Options.Sentry.Tags (the crash's own fields win). Sentry's limits
//     apply (Relay normalize_tags, MaxChars::TagKey and TagValue: 200
//     characters each; a longer key or value, an empty value or a value
//     with a newline makes Relay drop the tag), so: every character of K
//     outside [A-Za-z0-9_.:-] (the characters Sentry documents for tag
//     keys) becomes '_' and the key is cut to 200 characters; control
//     characters of V become spaces and a V longer than 200 characters
//     keeps its first 199 and "…"; an empty V makes no tag. Two labels
//     whose keys come out alike: the first in key order makes the tag.
//   - contexts.goroutine: {"id": the crashed goroutine, "labels": all its
//     labels exactly as set}, with "labels_unparsed" when the header held
//     labels in a form this version does not parse.
//   - threads: every goroutine's thread name ends with its labels in the
//     runtime's form, keys sorted, each Go-quoted (strconv.Quote: printable
//     Unicode as is, where the runtime escapes all but ASCII), at most 768
//     bytes, the name within Relay's 1,024 characters:
//     `goroutine 7 [select] labels:{"request_id": "r-17"}` (Sentry's thread
//     has no other field for them: its schema allows no other key).
const (
	labelTagPrefix = "label."
	// maxTagChars is Relay's MaxChars::TagKey and MaxChars::TagValue.
	maxTagChars = 200
	// maxNameLabels caps the labels part of a thread name, in bytes, so
	// that the whole name (the header before it, a fold's "+ N more with
	// this stack (ids)" after it) stays within Relay's 1,024 characters
	// for a thread name (Thread.name, max_chars = 1024), past which Relay
	// cuts it.
	maxNameLabels = 768
)

// applyLabels gives ev the crashed goroutine's labels as tags and a
// context (see above). Called after the scope is applied.
func applyLabels(ev *sentry.Event, r *report.Report) {
	g := crashedGoroutine(r)
	if g == nil || len(g.Labels) == 0 && g.LabelsUnparsed == "" {
		return
	}
	c := sentry.Context{"id": g.ID}
	if len(g.Labels) > 0 {
		labels := make(map[string]any, len(g.Labels))
		for k, v := range g.Labels {
			labels[k] = v
		}
		c["labels"] = labels
	}
	if g.LabelsUnparsed != "" {
		c["labels_unparsed"] = g.LabelsUnparsed
	}
	if ev.Contexts == nil {
		ev.Contexts = map[string]sentry.Context{}
	}
	ev.Contexts["goroutine"] = c
	for k, v := range labelTags(g.Labels) {
		if ev.Tags == nil {
			ev.Tags = map[string]string{}
		}
		ev.Tags[k] = v
	}
}

// labelTags maps labels to tags by the rule above.
func labelTags(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	tags := make(map[string]string, len(labels))
	for _, k := range sortedKeys(labels) {
		v := labelTagValue(labels[k])
		if v == "" {
			continue
		}
		key := labelTagKey(k)
		if _, taken := tags[key]; !taken {
			tags[key] = v
		}
	}
	return tags
}

func labelTagKey(k string) string {
	var b strings.Builder
	b.WriteString(labelTagPrefix)
	for _, r := range k {
		if b.Len() >= maxTagChars {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '_', r == '.', r == ':', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func labelTagValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	if utf8.RuneCountInString(v) <= maxTagChars {
		return v
	}
	n := 0
	for i := range v {
		if n == maxTagChars-1 {
			return v[:i] + "…"
		}
		n++
	}
	return v
}

// labelsSuffix is what a goroutine's thread name ends with: its labels in
// the runtime's form (keys sorted, Go-quoted), at most maxNameLabels bytes,
// or the unparsed text; "" without labels.
func labelsSuffix(g *report.Goroutine) string {
	if len(g.Labels) == 0 {
		if g.LabelsUnparsed != "" {
			return " " + cutBytes(g.LabelsUnparsed, maxNameLabels)
		}
		return ""
	}
	var b strings.Builder
	b.WriteString(" labels:{")
	for i, k := range sortedKeys(g.Labels) {
		if i > 0 {
			b.WriteString(", ")
		}
		pair := strconv.Quote(k) + ": " + strconv.Quote(g.Labels[k])
		if b.Len()+len(pair) > maxNameLabels {
			b.WriteString("…")
			break
		}
		b.WriteString(pair)
	}
	b.WriteString("}")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cutBytes cuts s to at most n bytes on a rune boundary, with "…".
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
