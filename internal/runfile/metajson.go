package runfile

import (
	"strconv"
	"time"

	"github.com/crashguard/crashguard-go/internal/jsonstr"
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
	b = jsonstr.Append(b, m.RunID)
	b = append(b, `,"event_id":`...)
	b = jsonstr.Append(b, m.EventID)
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
			b = jsonstr.Append(b, s)
		}
		b = append(b, '}')
	}
	if m.Session != nil {
		b = append(b, `,"session":{`...)
		if m.Session.DID != "" {
			b = append(b, `"did":`...)
			b = jsonstr.Append(b, m.Session.DID)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendProcess(b []byte, p *report.Process) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(p.PID), 10)
	b = append(b, `,"executable":`...)
	b = jsonstr.Append(b, p.Executable)
	if len(p.Args) > 0 {
		b = append(b, `,"args":[`...)
		for i, a := range p.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, a)
		}
		b = append(b, ']')
	}
	b = appendOpt(b, "hostname", p.Hostname)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, p.StartTime)
	b = append(b, `,"crash_time":`...)
	b = appendTime(b, p.CrashTime)
	b = append(b, `,"go_version":`...)
	b = jsonstr.Append(b, p.GoVersion)
	b = append(b, `,"goos":`...)
	b = jsonstr.Append(b, p.GOOS)
	b = append(b, `,"goarch":`...)
	b = jsonstr.Append(b, p.GOARCH)
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
	return jsonstr.Append(b, v)
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
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = jsonstr.Append(b, v)
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
