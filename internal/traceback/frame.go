package traceback

import (
	"strconv"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// parseCall parses the first line of a frame, "pkg.Func(args)", into a
// frame without location. The argument list is the last parenthesized group:
// function names hold parentheses too ("main.(*T).m"), argument lists never
// do (they print as "{0x1?, 0x2}" or "...").
func parseCall(line string) report.Frame {
	fn, args := line, ""
	if strings.HasSuffix(line, ")") {
		if i := strings.LastIndexByte(line, '('); i > 0 {
			fn, args = line[:i], line[i+1:len(line)-1]
		}
	}
	return report.Frame{Function: fn, Package: packageOf(fn), Args: args}
}

// parseLocation fills f from the second line of a frame, without its
// leading tab:
//
//	/src/main.go:12 +0x1d fp=0xc000 sp=0xc000 pc=0x4a2f1c
//
// Everything after the line number is optional. The path is split at the
// last colon before the line number, so a path holding colons (C:/...) or
// spaces survives.
func parseLocation(s string, f *report.Frame) {
	if i := strings.Index(s, " fp="); i >= 0 {
		tail := s[i:]
		s = s[:i]
		if j := strings.LastIndex(tail, " pc=0x"); j >= 0 {
			f.PC, _ = parseHex(tail[j+len(" pc="):])
		}
	} else if isCLocation(s) {
		// A C frame through a cgo symbolizer: "file:line pc=0x..." or
		// "pc=0x...".
		i := strings.LastIndex(s, "pc=0x")
		f.PC, _ = parseHex(s[i+len("pc="):])
		s = strings.TrimSuffix(s[:i], " ")
		if s == "" {
			return
		}
	}
	if i := strings.LastIndex(s, " +0x"); i >= 0 {
		if off, ok := parseHex(s[i+len(" +"):]); ok {
			f.Offset = off
			s = s[:i]
		}
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil {
			f.File, f.Line = s[:i], n
			return
		}
	}
	f.File = s
}

// parseHex parses "0x1d" (the whole string) as a number.
func parseHex(s string) (uint64, bool) {
	if len(s) < 3 || s[0] != '0' || s[1] != 'x' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil
}

// argWord returns the n-th word of a frame's argument list as printed,
// counting the words of a brace group one by one: for "{0x53fb88, 0x15}"
// word 1 is 0x15. exact is false for a value printed with "?": the runtime
// read it from a spill slot that may be stale.
func argWord(args string, n int) (v uint64, ok, exact bool) {
	for i := 0; args != ""; i++ {
		var w string
		w, args, _ = strings.Cut(args, ",")
		if i < n {
			continue
		}
		w = strings.Trim(w, " {}")
		exact = !strings.HasSuffix(w, "?")
		v, ok = parseHex(strings.TrimSuffix(w, "?"))
		return v, ok, ok && exact
	}
	return 0, false, false
}

// packageOf returns the import path part of a function name as printed:
//
//	main.main                                    -> main
//	github.com/x/y.(*T).m.func1                  -> github.com/x/y
//	example.com/crashgen/dotted%2ev2.(*Box).Open -> example.com/crashgen/dotted.v2
//	gopkg.in/yaml.v3.(*parser).parse             -> gopkg.in/yaml.v3
//	panic                                        -> runtime
//
// The linker escapes dots in the last path element as %2e, so in real
// output the first dot after the last slash ends the import path. Text
// that was unescaped on its way here ("gopkg.in/yaml.v3.foo") is ambiguous;
// a ".vN." right after the first element is taken to be a gopkg.in style
// version, the only common case.
func packageOf(fn string) string {
	if fn == "panic" {
		// The runtime prints runtime.gopanic as "panic".
		return "runtime"
	}
	// A slash inside type parameters cannot appear: the runtime prints
	// them as "[...]". Stop at "[" anyway for hand-written input.
	name := fn
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndexByte(name, '/')
	rest := name[slash+1:]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return ""
	}
	if slash >= 0 {
		if n := versionSuffix(rest[dot+1:]); n > 0 {
			dot += 1 + n
		}
	}
	pkg := name[:slash+1+dot]
	if strings.Contains(pkg, "%") {
		pkg = unescapePath(pkg)
	}
	return pkg
}

// versionSuffix returns the length of a "vN" element at the start of s
// that is followed by a dot, or 0.
func versionSuffix(s string) int {
	if len(s) < 3 || s[0] != 'v' {
		return 0
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 1 || i == len(s) || s[i] != '.' {
		return 0
	}
	return i
}

// unescapePath undoes the linker's %xx escaping of symbol names.
func unescapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isRuntimeFunc reports whether fn is part of the Go runtime proper (not
// user code, nor standard library code that merely calls into it).
func isRuntimeFunc(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") ||
		strings.HasPrefix(fn, "internal/runtime/") ||
		strings.HasPrefix(fn, "runtime/internal/") ||
		strings.HasPrefix(fn, "internal/bytealg.") ||
		fn == "panic"
}
