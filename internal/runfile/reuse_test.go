//go:build unix

package runfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/report"
)

// fill sets every field reachable from v to a non-zero value, so that a
// field added to Meta (or report.Process, report.BuildInfo) that appendMeta
// does not write makes TestAppendMetaMatchesJSON fail.
func fill(t *testing.T, v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(4242)
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(4343)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), s)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(t, v.Index(0), s)
		fill(t, v.Index(1), s+"2")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i, k := range []string{"a", "b\"c"} {
			key := reflect.New(v.Type().Key()).Elem()
			if key.Kind() == reflect.String {
				key.SetString(k)
			} else {
				key.SetUint(uint64(0x4000 + i))
			}
			val := reflect.New(v.Type().Elem()).Elem()
			fill(t, val, s+k)
			m.SetMapIndex(key, val)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 1, 23, 45, 6, 789000000, time.FixedZone("X", 3600))))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), s+v.Type().Field(i).Name)
			}
		}
	default:
		t.Fatalf("fill: %s (%s) not handled: teach appendMeta and this test", v.Type(), v.Kind())
	}
}

func decodeMeta(t *testing.T, b []byte) (Meta, map[string]any) {
	t.Helper()
	var m Meta
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	return m, generic
}

func TestAppendMetaMatchesJSON(t *testing.T) {
	var full Meta
	fill(t, reflect.ValueOf(&full).Elem(), "v\n\t\x01\"\\<é\xff\u2028")
	for name, m := range map[string]*Meta{
		"every field": &full,
		"zero":        {},
		"typical": {RunID: "r", EventID: "e", Process: report.Process{PID: 7, StartTime: time.Now(),
			Build: &report.BuildInfo{}}},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(m)
			require.NoError(t, err)
			got := appendMeta(nil, m)
			assert.True(t, json.Valid(got), "%s", got)
			gotMeta, gotGeneric := decodeMeta(t, got)
			wantMeta, wantGeneric := decodeMeta(t, want)
			// Times are written in UTC; equal instants, not equal zones.
			for _, p := range []*report.Process{&gotMeta.Process, &wantMeta.Process} {
				p.StartTime, p.CrashTime = p.StartTime.UTC(), p.CrashTime.UTC()
			}
			assert.Equal(t, wantMeta, gotMeta)
			wp, gp := wantGeneric["process"].(map[string]any), gotGeneric["process"].(map[string]any)
			for _, k := range []string{"start_time", "crash_time"} {
				wt, _ := time.Parse(time.RFC3339Nano, wp[k].(string))
				gt, _ := time.Parse(time.RFC3339Nano, gp[k].(string))
				assert.True(t, wt.Equal(gt), k)
				delete(wp, k)
				delete(gp, k)
			}
			assert.Equal(t, wantGeneric, gotGeneric, "same keys and omissions as json.Marshal")
		})
	}
	assert.Contains(t, string(appendMeta(nil, &full)), `"start_time":"2026-12-01T22:45:06.789Z"`, "UTC")
}

// endRun ends a run as a process's exit does: the lock goes, the files stay.
func endRun(t *testing.T, r *Run) {
	t.Helper()
	require.NoError(t, r.CrashFile.Close())
}

func startRun(t *testing.T, runs string) *Run {
	t.Helper()
	r, err := Start(runs, &Meta{EventID: "e", Process: report.Process{PID: os.Getpid(), StartTime: time.Now()}})
	require.NoError(t, err)
	return r
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

func TestStartTakesOverADeadCleanRun(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	first := startRun(t, runs)
	require.NoError(t, flightrec.Create(first.Path(FlightName)))
	require.NoError(t, os.WriteFile(first.Path(SuppressedName), nil, 0o600))
	before, err := os.Stat(first.file())
	require.NoError(t, err)
	endRun(t, first)

	second := startRun(t, runs)
	assert.True(t, second.Reused)
	assert.NotEqual(t, first.ID, second.ID)
	assert.Equal(t, []string{second.ID + ".flight", second.ID + ".run"}, names(t, runs),
		"the dead run's files became this run's; its suppression marker went")
	after, err := os.Stat(second.file())
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after))
	require.NoError(t, flightrec.Create(second.Path(FlightName)), "the recorder handed over is taken over")

	// Alive: nobody can claim or take it over.
	_, err = Claim(runs, second.ID)
	require.ErrorIs(t, err, ErrAlive)

	// Its content is this run's line alone, and crash output goes after it.
	_, err = second.CrashFile.WriteString("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n")
	require.NoError(t, err)
	endRun(t, second)
	d, err := Claim(runs, second.ID)
	require.NoError(t, err)
	c, err := d.Read(1 << 20)
	require.NoError(t, err)
	require.NotNil(t, c.Meta, "%v", c.MetaErr)
	assert.Equal(t, second.ID, c.Meta.RunID)
	assert.True(t, strings.HasPrefix(string(c.Output), "panic: boom\n"), "%q", c.Output)
	assert.False(t, d.NoEvidence())
	d.Release()
}

func TestStartNeverTakesOverEvidenceOrALiveRun(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")

	crashed := startRun(t, runs)
	_, err := crashed.CrashFile.WriteString("panic: x\n")
	require.NoError(t, err)
	endRun(t, crashed)

	fault := startRun(t, runs)
	require.NoError(t, flightrec.Create(fault.Path(FlightName)))
	f, err := os.OpenFile(fault.Path(FlightName), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{1}, 88) // header.next_seq: a record was claimed
	require.NoError(t, err)
	require.NoError(t, f.Close())
	endRun(t, fault)

	damaged := startRun(t, runs)
	_, err = damaged.CrashFile.WriteAt(make([]byte, 8), 20) // NULs in the line
	require.NoError(t, err)
	endRun(t, damaged)

	alive := startRun(t, runs) // lock held for the whole test
	defer alive.CrashFile.Close()

	before := names(t, runs)
	r := startRun(t, runs)
	assert.False(t, r.Reused)
	assert.Len(t, names(t, runs), len(before)+1, "a new run file; the others untouched")
	for _, id := range []string{crashed.ID, fault.ID, damaged.ID} {
		d, err := Claim(runs, id)
		require.NoError(t, err)
		assert.False(t, d.NoEvidence(), id)
		d.Release()
	}
}

// TestThousandCleanRunsLeaveOneRun: 1,000 runs in a row that each end
// cleanly (with a flight recorder, as with the native layer) and never
// collect anything leave exactly one run's two files.
func TestThousandCleanRunsLeaveOneRun(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	reused := 0
	for range 1000 {
		r := startRun(t, runs)
		if r.Reused {
			reused++
		}
		require.NoError(t, flightrec.Create(r.Path(FlightName)))
		endRun(t, r)
	}
	assert.Equal(t, 999, reused)
	assert.Len(t, names(t, runs), 2)
}

func TestNoEvidence(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	r := startRun(t, runs)
	endRun(t, r)
	d, err := Claim(runs, r.ID)
	require.NoError(t, err)
	assert.True(t, d.NoEvidence(), "metadata only, no recorder")
	require.NoError(t, flightrec.Create(d.Path(FlightName)))
	assert.True(t, d.NoEvidence(), "metadata only, unused recorder")
	require.NoError(t, os.WriteFile(d.Path(FlightName), []byte("junk"), 0o600))
	assert.False(t, d.NoEvidence(), "a recorder that is not one: decode it the full way")
	d.Release()

	other := startRun(t, runs)
	endRun(t, other)
	// Another run's line under this run's name is not this run's.
	line, err := os.ReadFile(other.file())
	require.NoError(t, err)
	require.NoError(t, os.Remove(other.file()))
	writeDead(t, runs, "20260101T000000.000000000Z-1-0123456789ab", string(line))
	d, err = Claim(runs, "20260101T000000.000000000Z-1-0123456789ab")
	require.NoError(t, err)
	assert.False(t, d.NoEvidence())
	d.Release()
}

// BenchmarkStart measures Start in a new file against Start taking over a
// dead clean run (and its recorder), the metadata line included.
func BenchmarkStart(b *testing.B) {
	meta := func() *Meta {
		return &Meta{EventID: "0123456789abcdef0123456789abcdef",
			Process: report.Process{PID: os.Getpid(), StartTime: time.Now(), Executable: "/usr/bin/x",
				Build: &report.BuildInfo{MainPath: "example.com/x", Deps: map[string]string{"github.com/getsentry/sentry-go": "v0.50.0"}}}}
	}
	for _, reuse := range []bool{false, true} {
		b.Run(map[bool]string{false: "new", true: "take-over"}[reuse], func(b *testing.B) {
			runs := filepath.Join(b.TempDir(), "runs")
			first := true
			for b.Loop() {
				r, err := Start(runs, meta())
				if err != nil {
					b.Fatal(err)
				}
				if err := flightrec.Create(r.Path(FlightName)); err != nil {
					b.Fatal(err)
				}
				if r.Reused != (reuse && !first) {
					b.Fatalf("reused %v", r.Reused)
				}
				first = false
				b.StopTimer()
				if reuse {
					r.CrashFile.Close() // a dead clean run for the next Start
				} else {
					_ = r.Abandon()
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkMetaLine compares the metadata line's encoders.
func BenchmarkMetaLine(b *testing.B) {
	m := &Meta{RunID: "20260101T000000.000000000Z-1-0123456789ab", EventID: "0123456789abcdef0123456789abcdef",
		Process: report.Process{PID: 1, StartTime: time.Now().UTC(), Executable: "/usr/bin/x",
			Build: &report.BuildInfo{MainPath: "example.com/x", Deps: map[string]string{"github.com/getsentry/sentry-go": "v0.50.0"}}},
		FatalStrings: map[uint64]string{0x4000: "concurrent map writes"}}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(m)
		}
	})
	b.Run("appendMeta", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = appendMeta(buf[:0], m)
		}
	})
}
