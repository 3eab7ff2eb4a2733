package traceback

import (
	"strings"
	"unicode/utf8"
)

// maxLabels bounds how many labels one header may carry before the text is
// kept unparsed instead: a label set is small in practice, and the bound
// keeps a hostile or damaged line from costing more than its length.
const maxLabels = 1024

// parseLabels parses the runtime/pprof labels of a goroutine header, the
// text from "labels:{" to the "}" before the header's "]:", exactly as
// runtime.goroutineheader prints it (Go 1.26, runtime/traceback.go, with
// GODEBUG=tracebacklabels=1; the default for modules that declare go 1.27
// or later):
//
//	labels:{"k": "v", "request_id": "r-17"}
//
// Keys and values are each printed by runtime.printquoted: between double
// quotes, printable ASCII (' ' to '~') as is except '\\' and '"', which are
// escaped with a backslash; \n, \r and \t; other runes below 0x7f as \xHH,
// runes below 0x10000 as \uHHHH, the rest as \UHHHHHHHH, in lowercase hex
// of exactly that many digits. Invalid UTF-8 was printed as \ufffd, so it
// comes back as U+FFFD. The label set is printed in its own order (sorted
// by key) with ", " between pairs.
//
// Anything else — another escape, a raw byte outside printable ASCII, a
// missing quote or separator, text after the closing brace, a key printed
// twice (two keys of invalid UTF-8 can print alike) — fails the parse (ok
// false): the format is documented as one that
// may change, and a label is never guessed.
func parseLabels(text string) (labels map[string]string, ok bool) {
	rest, ok := strings.CutPrefix(text, "labels:{")
	if !ok {
		return nil, false
	}
	labels = map[string]string{}
	for first := true; ; first = false {
		if rest == "}" {
			// "labels:{}" is never printed: the runtime leaves an empty
			// set out.
			return labels, len(labels) > 0
		}
		if !first {
			if rest, ok = strings.CutPrefix(rest, ", "); !ok {
				return nil, false
			}
		}
		var k, v string
		if k, rest, ok = unquoteRuntime(rest); !ok {
			return nil, false
		}
		if rest, ok = strings.CutPrefix(rest, ": "); !ok {
			return nil, false
		}
		if v, rest, ok = unquoteRuntime(rest); !ok {
			return nil, false
		}
		if _, dup := labels[k]; dup || len(labels) >= maxLabels {
			return nil, false
		}
		labels[k] = v
	}
}

// unquoteRuntime reads one string printed by runtime.printquoted from the
// start of s and returns it unescaped with the text after it. It accepts
// exactly what printquoted prints (see parseLabels), so a string that
// unquotes also quotes back to the same text.
func unquoteRuntime(s string) (val, rest string, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\':
			if i+1 >= len(s) {
				return "", s, false
			}
			i += 2
			switch s[i-1] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"':
				b.WriteByte(s[i-1])
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i-1]]
				r, good := lowerHex(s[i:], n)
				if !good || !escapedRune(s[i-1], r) {
					return "", s, false
				}
				b.WriteRune(r)
				i += n
			default:
				return "", s, false
			}
		case c >= ' ' && c <= '~':
			b.WriteByte(c)
			i++
		default:
			return "", s, false
		}
	}
	return "", s, false // no closing quote
}

// lowerHex reads exactly n lowercase hex digits from the start of s.
func lowerHex(s string, n int) (rune, bool) {
	if len(s) < n {
		return 0, false
	}
	var v uint64
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	if v > utf8.MaxRune {
		return 0, false
	}
	return rune(v), true
}

// escapedRune reports whether printquoted prints r with the escape kind:
// \x for the control characters below ' ' other than \n, \r and \t; \u for
// U+007F and the rest of the basic plane; \U above it. Surrogates never
// occur (ranging over a string yields U+FFFD for them).
func escapedRune(kind byte, r rune) bool {
	switch kind {
	case 'x':
		return r < ' ' && r != '\n' && r != '\r' && r != '\t'
	case 'u':
		return r >= 0x7f && r < 0x10000 && utf8.ValidRune(r)
	default:
		return r >= 0x10000 && utf8.ValidRune(r)
	}
}
