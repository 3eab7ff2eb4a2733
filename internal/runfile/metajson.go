package runfile

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/crashguard/crashguard-go/internal/report"
)

// appendMeta appends m as one line of JSON, the form json.Marshal gives
// (same keys, same omissions, read back by json.Unmarshal into an equal
// Meta), without the reflective encoder, whose first use costs Install
// about 0.4-0.5 ms. Times are written in UTC, so formatting never loads
// the local time zone (another 0.2 ms at the first use). Map keys are in
// map order: JSON objects have none.
//
// TestAppendMetaMatchesJSON fills every field of Meta by reflection and
// fails when a field is added that this encoder does not write.
func appendMeta(b []byte, m *Meta) []byte {
	b = append(b, `{"run_id":`...)
	b = appendString(b, m.RunID)
	b = append(b, `,"event_id":`...)
	b = appendString(b, m.EventID)
	b = append(b, `,"process":`...)
	b = appendProcess(b, &m.Process)
	if len(m.FatalStrings) > 0 {
		b = append(b, `,"fatal_strings":{`...)
		first := true
		for addr, s := range m.FatalStrings {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = strconv.AppendUint(b, addr, 10)
			b = append(b, `":`...)
			b = appendString(b, s)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendProcess(b []byte, p *report.Process) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(p.PID), 10)
	b = append(b, `,"executable":`...)
	b = appendString(b, p.Executable)
	if len(p.Args) > 0 {
		b = append(b, `,"args":[`...)
		for i, a := range p.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = appendOpt(b, "hostname", p.Hostname)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, p.StartTime)
	b = append(b, `,"crash_time":`...)
	b = appendTime(b, p.CrashTime)
	b = append(b, `,"go_version":`...)
	b = appendString(b, p.GoVersion)
	b = append(b, `,"goos":`...)
	b = appendString(b, p.GOOS)
	b = append(b, `,"goarch":`...)
	b = appendString(b, p.GOARCH)
	b = appendOpt(b, "traceback", p.Traceback)
	if bi := p.Build; bi != nil {
		b = append(b, `,"build":{`...)
		n := len(b)
		b = appendOpt(b, "main_path", bi.MainPath)
		b = appendOpt(b, "main_version", bi.MainVersion)
		b = appendOpt(b, "vcs_revision", bi.VCSRevision)
		b = appendOpt(b, "vcs_time", bi.VCSTime)
		if bi.VCSModified {
			b = append(b, `,"vcs_modified":true`...)
		}
		b = appendMap(b, "deps", bi.Deps)
		if len(b) > n {
			b = append(b[:n], b[n+1:]...) // the first field's comma
		}
		b = append(b, '}')
	}
	b = appendOpt(b, "release", p.Release)
	b = appendOpt(b, "environment", p.Environment)
	b = appendOpt(b, "server_name", p.ServerName)
	b = appendMap(b, "tags", p.Tags)
	b = appendOpt(b, "dist", p.Dist)
	return append(b, '}')
}

// appendOpt appends ,"key":"v" unless v is empty (omitempty).
func appendOpt(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return appendString(b, v)
}

// appendMap appends ,"key":{...} unless m is empty (omitempty).
func appendMap(b []byte, key string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":{`...)
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	return append(b, '}')
}

// appendTime appends t in UTC as time.Time's MarshalJSON does (RFC 3339
// with nanoseconds, trailing zeros dropped).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// apart from HTML characters (<, >, & are left as they are: valid JSON,
// and nothing renders this line as HTML): quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
