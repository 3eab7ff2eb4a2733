package collector

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// A run id as runfile makes them, and the event id its metadata names.
const (
	runID   = "20261122T120000.000000000Z-4242-0a0b0c0d0e0f"
	eventID = "0123456789abcdef0123456789abcdef"
)

// metaLine is the metadata line Install writes for runID.
func metaLine(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(&runfile.Meta{
		RunID:   runID,
		EventID: eventID,
		Process: report.Process{PID: 4242, StartTime: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), GOOS: "linux"},
	})
	require.NoError(t, err)
	return string(b) + "\n"
}

type fixture struct {
	runs string
	ob   *outbox.Outbox
	c    *Collector
	log  *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{runs: filepath.Join(dir, "runs"), log: &bytes.Buffer{}}
	require.NoError(t, os.Mkdir(f.runs, 0o700))
	ob, err := outbox.Open(filepath.Join(dir, "outbox"), outbox.Options{})
	require.NoError(t, err)
	f.ob = ob
	f.c = &Collector{Runs: f.runs, Outbox: ob, Logger: slog.New(slog.NewTextHandler(f.log, nil))}
	return f
}

func (f *fixture) writeRun(t *testing.T, content []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(f.runs, runID+runfile.RunExt), content, 0o600))
}

func (f *fixture) pending(t *testing.T) []outbox.Entry {
	t.Helper()
	entries, err := f.ob.List()
	require.NoError(t, err)
	return entries
}

func (f *fixture) quarantine(t *testing.T) map[string]string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(f.ob.Dir(), "quarantine"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(f.ob.Dir(), "quarantine", de.Name()))
		require.NoError(t, err)
		out[de.Name()] = string(b)
	}
	return out
}

func (f *fixture) runsLeft(t *testing.T) []string {
	t.Helper()
	des, err := os.ReadDir(f.runs)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// crashFiles returns every real crash output in internal/traceback/testdata.
func crashFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../traceback/testdata/go1.*/*.crash.txt")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4*58, "the crash outputs of four Go releases")
	return files
}

// Every real crash output, after a good metadata line, after a damaged one
// and after a zeroed one, still becomes exactly one report and no quarantine.
func TestEveryRealCrashOutputIsReported(t *testing.T) {
	for _, file := range crashFiles(t) {
		crash, err := os.ReadFile(file)
		require.NoError(t, err)
		name := strings.TrimPrefix(file, "../traceback/testdata/")
		for _, prefix := range []struct {
			name, text string
			event      bool // the metadata's event id is kept
		}{
			{"meta", metaLine(t), true},
			{"garbage meta", "{\"run_id\":\"2026112\x01garbage\n", false},
			{"cut meta then NULs", metaLine(t)[:30] + strings.Repeat("\x00", 100), false},
			{"NUL meta line", strings.Repeat("\x00", 300) + "\n", false},
		} {
			t.Run(name+"/"+prefix.name, func(t *testing.T) {
				f := newFixture(t)
				mem := &memOutbox{}
				f.c.Outbox = mem // the real outbox's fsyncs would make this test slow
				f.writeRun(t, append([]byte(prefix.text), crash...))
				res, err := f.c.CollectAll()
				require.NoError(t, err)
				assert.Equal(t, Result{Reports: 1}, res)
				require.Len(t, mem.reports, 1)
				r := mem.reports[0]
				if prefix.event {
					assert.Equal(t, eventID, r.EventID)
				}
				assert.Equal(t, string(bytes.TrimLeft(crash, "\n")), r.CrashOutput, "the crash output exactly, without the damaged metadata")
				assert.NotEmpty(t, r.Kind)
				assert.True(t, len(r.Goroutines) > 0 || r.Kind == report.KindFatalError, "goroutines, or a runtime stack only")
				assert.Empty(t, mem.quarantined)
				assert.Empty(t, f.runsLeft(t))
			})
		}
	}
}

// memOutbox keeps what the collector stores in memory.
type memOutbox struct {
	reports     []*report.Report
	quarantined []string
}

func (m *memOutbox) Put(r *report.Report) error { m.reports = append(m.reports, r); return nil }
func (m *memOutbox) QuarantineData(name string, _ []byte, _, _ string) (string, error) {
	m.quarantined = append(m.quarantined, name)
	return name, nil
}

// What the openers accept, line by line, against every first line of the
// real crash outputs; and what they refuse.
func TestOpeners(t *testing.T) {
	for _, file := range crashFiles(t) {
		crash, err := os.ReadFile(file)
		require.NoError(t, err)
		b := trimStart(crash)
		first, _, _ := bytes.Cut(b, []byte("\n"))
		assert.True(t, isOpener(string(first), b), "%s: %q", file, first)
	}
	for _, line := range []string{
		"", "panic:", "panicked: x", "goroutine", "goroutine x [running]:", "goroutine 1 running:",
		"goroutine 1 [running]", "goroutine 12345678901234567890 [running]:", "SIG: x", "SIGsegv: x",
		"SIGSEGV:", "Signal x", "[signal SIGSEGV", "runtime stack", "{\"run_id\":\"x\"}", "\x00\x00",
		"fatal error:", "unexpected fault address", "garbage",
	} {
		assert.False(t, isOpener(line, []byte(line+"\nPC=0x1 m=0 sigcode=1\n")), "%q", line)
	}
	assert.False(t, isOpener("SIGSEGV: segmentation violation", []byte("SIGSEGV: segmentation violation\nnot a pc line\n")),
		"a fatal signal line is followed by its PC= line")
	assert.True(t, isOpener("Signal 45", []byte("Signal 45\nPC=0x1 m=0 sigcode=0\n")))
	assert.True(t, isOpener("Exception 0xc0000005 0x0 0x0 0x7ff6", []byte("Exception 0xc0000005 0x0 0x0 0x7ff6\nPC=0x7ff6\n")))
}

func TestDamagedRunFilesAreQuarantinedNotReported(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	random[100] = '\n' // a "line" of random bytes, then more
	big := bytes.Repeat([]byte("\xde\xad\xbe\xef"), 600<<10)
	meta := metaLine(t)
	for name, tc := range map[string]struct {
		content []byte
		reason  string
	}{
		"NUL-filled": {bytes.Repeat([]byte{0}, 8192),
			"metadata line unreadable and not Go crash output: no line that opens a Go crash output; every byte is NUL, as an unwritten file after a power loss reads"},
		"random bytes": {random,
			"metadata line unreadable and not Go crash output: no line that opens a Go crash output"},
		"metadata cut short": {[]byte(meta[:len(meta)/2]),
			"metadata line unreadable and not Go crash output: no line that opens a Go crash output"},
		"metadata of another run": {[]byte(strings.Replace(meta, runID, "20261122T120000.000000000Z-1-0a0b0c0d0e0f", 1) + "panic: x\n"),
			"metadata line unreadable and not Go crash output: opens like Go crash output (\"panic: x\") but holds no goroutine or runtime stack"},
		"metadata then NULs": {append([]byte(meta), make([]byte, 4096)...),
			"not Go crash output: no line that opens a Go crash output"},
		"metadata then text": {[]byte(meta + "hello\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:1 +0x1\n"),
			"not Go crash output: no line that opens a Go crash output"},
		"panic line without goroutines": {[]byte(meta + "panic: boom\n\n"),
			"not Go crash output: opens like Go crash output (\"panic: boom\") but holds no goroutine or runtime stack"},
		"big": {big, "metadata line unreadable and not Go crash output: no line that opens a Go crash output"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.writeRun(t, tc.content)
			res, err := f.c.CollectAll()
			require.NoError(t, err)
			assert.Equal(t, Result{Quarantined: 1}, res)
			assert.Empty(t, f.pending(t), "never a report")
			assert.Empty(t, f.runsLeft(t), "the run's files are removed once kept in quarantine")

			q := f.quarantine(t)
			require.Len(t, q, 2)
			kept := tc.content
			if len(kept) > maxQuarantineRaw {
				kept = kept[:maxQuarantineRaw]
			}
			assert.Equal(t, string(kept), q[runID+".run"], "the raw bytes, capped")
			reason := q[runID+".run.reason"]
			assert.Contains(t, reason, "file: "+runID+".run\n")
			assert.Contains(t, reason, "\nreason: "+tc.reason+"\n")
			assert.Contains(t, reason, "run file size: "+strconv.Itoa(len(tc.content))+" bytes (first "+strconv.Itoa(len(kept))+" kept here)")
			assert.Contains(t, f.log.String(), "damaged run file quarantined")
		})
	}
}

func TestCleanEnds(t *testing.T) {
	for name, content := range map[string]string{
		"metadata only":             metaLine(t),
		"metadata and a blank line": metaLine(t) + "\n",
		"empty (died in Start)":     "",
		"metadata, no newline":      strings.TrimSuffix(metaLine(t), "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.writeRun(t, []byte(content))
			require.NoError(t, os.WriteFile(filepath.Join(f.runs, runID+".suppressed"), nil, 0o600))
			res, err := f.c.CollectAll()
			require.NoError(t, err)
			assert.Equal(t, Result{Clean: 1}, res)
			assert.Empty(t, f.pending(t))
			assert.Empty(t, f.quarantine(t))
			assert.Empty(t, f.runsLeft(t))
		})
	}
}

// quarantineFails is an outbox whose quarantine cannot be written.
type quarantineFails struct{ puts int }

func (q *quarantineFails) Put(*report.Report) error { q.puts++; return nil }
func (q *quarantineFails) QuarantineData(string, []byte, string, string) (string, error) {
	return "", errors.New("disk full")
}

// Evidence is never removed unless it was kept: a run whose quarantine
// failed stays for the next pass.
func TestDamagedRunKeptWhenQuarantineFails(t *testing.T) {
	f := newFixture(t)
	ob := &quarantineFails{}
	f.c.Outbox = ob
	f.writeRun(t, make([]byte, 512))
	res, err := f.c.CollectAll()
	assert.ErrorContains(t, err, "disk full")
	assert.Equal(t, Result{}, res)
	assert.Equal(t, 0, ob.puts)
	assert.Equal(t, []string{runID + ".run"}, f.runsLeft(t))
}

// writeFatalRecorder writes a flight recorder holding one complete record
// marked fatal, as the native handler leaves it for a fault on a thread Go
// did not create.
func writeFatalRecorder(t *testing.T, path string) {
	t.Helper()
	b := flightrec.NewImage(4, 0)
	flightrec.PutHeader(b, 4242, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	off := map[string]int{}
	for _, fl := range flightrec.Layout() {
		off[fl.Name] = fl.Offset
	}
	le := binary.LittleEndian
	rec := b[le.Uint32(b[off["header.record_offset"]:]):]
	le.PutUint32(rec[off["record.state"]:], flightrec.StateComplete)
	le.PutUint32(rec[off["record.flags"]:], uint32(flightrec.FlagFatal|flightrec.FlagFromSignal))
	le.PutUint64(rec[off["record.seq"]:], 1)
	le.PutUint64(rec[off["record.time"]:], uint64(time.Date(2026, 11, 22, 12, 0, 1, 0, time.UTC).UnixNano()))
	le.PutUint32(rec[off["record.signal"]:], 11)
	le.PutUint32(rec[off["record.code"]:], 1)
	le.PutUint64(rec[off["record.pc"]:], 0x401000)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// A fatal native record is evidence of its own: the report is made of it,
// and the unrecognisable crash output beside it goes to quarantine instead
// of into the report.
func TestFatalRecordWithDamagedOutput(t *testing.T) {
	f := newFixture(t)
	f.writeRun(t, append([]byte(metaLine(t)), make([]byte, 100)...))
	writeFatalRecorder(t, filepath.Join(f.runs, runID+".flight"))
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: 1, Quarantined: 1}, res)
	entries := f.pending(t)
	require.Len(t, entries, 1)
	r, err := f.ob.Load(eventID)
	require.NoError(t, err)
	assert.Equal(t, report.KindFault, r.Kind)
	assert.Equal(t, "SIGSEGV: segmentation violation", r.Message)
	assert.Empty(t, r.CrashOutput, "the damaged bytes are not sent")
	require.NotNil(t, r.Native)
	assert.True(t, r.Native.Fatal)
	q := f.quarantine(t)
	assert.Equal(t, string(make([]byte, 100))+"", q[runID+".run"][len(metaLine(t)):])
	assert.Empty(t, f.runsLeft(t))
}

// The same record with nothing in the run file: a report, no quarantine.
func TestFatalRecordAlone(t *testing.T) {
	f := newFixture(t)
	f.writeRun(t, []byte(metaLine(t)))
	writeFatalRecorder(t, filepath.Join(f.runs, runID+".flight"))
	res, err := f.c.CollectAll()
	require.NoError(t, err)
	assert.Equal(t, Result{Reports: 1}, res)
	assert.Empty(t, f.quarantine(t))
}

// Without an outbox nothing could keep a report or a damaged run: every
// run stays as it is.
func TestNoOutboxLeavesRuns(t *testing.T) {
	f := newFixture(t)
	f.c.Outbox = nil
	f.writeRun(t, make([]byte, 64))
	res, err := f.c.CollectAll()
	assert.ErrorIs(t, err, ErrNoOutbox)
	assert.Equal(t, Result{}, res)
	assert.Equal(t, []string{runID + ".run"}, f.runsLeft(t))
}
