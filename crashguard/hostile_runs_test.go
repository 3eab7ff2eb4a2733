//go:build unix

package crashguard

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
	tp "github.com/crashguard/crashguard-go/internal/testprog"
)

// Damaged and foreign files in Dir/runs, met by a real child process that
// Installs over that Dir and flushes to a test receiver (issue 7, items 4
// and 5). The run files are planted with no process holding their lock:
// dead runs, as an earlier process (or a power loss) left them.

// hrRun is a planted run file.
type hrRun struct {
	id      string
	content []byte
	reason  string // the quarantine reason it must get; "" when it is not quarantined
}

// hrID makes a run id the way runfile does, for a planted run.
func hrID(n int) string {
	id := time.Date(2026, 11, 22, 12, 0, n, 0, time.UTC).Format("20060102T150405.000000000Z") +
		fmt.Sprintf("-4242-%012x", n)
	if !runfile.ValidID(id) {
		panic("hrID: not a run id: " + id)
	}
	return id
}

// hrMeta is a valid metadata line for run id, naming event.
func hrMeta(t *testing.T, id, event string) []byte {
	t.Helper()
	b, err := json.Marshal(&runfile.Meta{RunID: id, EventID: event,
		Process: report.Process{PID: 4242, StartTime: time.Now().Add(-time.Hour), GOOS: "linux", GoVersion: "go1.26.8"}})
	require.NoError(t, err)
	return append(b, '\n')
}

// hrTree is testprog.Tree for a test: it fails the test on an error.
func hrTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m, err := tp.Tree(dir)
	require.NoError(t, err)
	return m
}

// hrPlantForeign puts files crashguard did not make into runs, several named
// almost like its own, and a link to a file outside.
func hrPlantForeign(t *testing.T, runs, outside string) {
	t.Helper()
	like := hrID(42) // ends in "2a": its upper-case form is not an id
	for _, name := range []string{
		"notes.txt", "a.b", ".hidden", "x.run", like, like + ".run.bak", like + ".flight.tmp",
		like + ".log", strings.ToUpper(like) + ".flight", hrID(21)[:len(like)-1] + ".flight",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(runs, name), []byte("not crashguard's"), 0o600))
	}
	for _, name := range []string{"cache.d", "empty.d", hrID(22) + ".flight"} {
		require.NoError(t, os.Mkdir(filepath.Join(runs, name), 0o700))
	}
	precious := filepath.Join(outside, "precious")
	require.NoError(t, os.WriteFile(precious, []byte("precious"), 0o600))
	require.NoError(t, os.Symlink(precious, filepath.Join(runs, hrID(23)+".flight")))
	require.NoError(t, os.Symlink(precious, filepath.Join(runs, hrID(24)+".run")))
}

// hrRuns lays out the damaged runs, a clean one, and one real crash as a
// control: it must arrive, which shows that the others did not arrive
// because they were refused, not because nothing was sent.
func hrRuns(t *testing.T) (damaged []hrRun, clean hrRun, control hrRun, controlEvent string) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(4, 7))
	random := make([]byte, 32<<10)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	meta := hrMeta(t, hrID(3), "3333333333333333333333333333333a")
	const noOpener = "metadata line unreadable and not Go crash output: no line that opens a Go crash output"
	damaged = []hrRun{
		{hrID(1), make([]byte, 8192), noOpener + "; every byte is NUL, as an unwritten file after a power loss reads"},
		{hrID(2), random, noOpener},
		{hrID(3), meta[:len(meta)/2], noOpener},
		{hrID(4), append(hrMeta(t, hrID(4), "4444444444444444444444444444444a"), make([]byte, 4096)...),
			"not Go crash output: no line that opens a Go crash output"},
	}
	clean = hrRun{id: hrID(5), content: hrMeta(t, hrID(5), "5555555555555555555555555555555a")}
	crash, err := os.ReadFile("../internal/traceback/testdata/go1.26/panic_main.crash.txt")
	require.NoError(t, err)
	controlEvent = "6666666666666666666666666666666a"
	control = hrRun{id: hrID(6), content: append(hrMeta(t, hrID(6), controlEvent), crash...)}
	return damaged, clean, control, controlEvent
}

func TestHostileRunFilesQuarantinedNotSent(t *testing.T) {
	bin := testprog(t, "gocrash")
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir, outside := t.TempDir(), t.TempDir()
	runs := filepath.Join(dir, "runs")
	require.NoError(t, os.Mkdir(runs, 0o700))
	hrPlantForeign(t, runs, outside)
	foreign := hrTree(t, runs)
	outsideBefore := hrTree(t, outside)

	damaged, clean, control, controlEvent := hrRuns(t)
	for _, r := range append([]hrRun{clean, control}, damaged...) {
		require.NoError(t, os.WriteFile(filepath.Join(runs, r.id+runfile.RunExt), r.content, 0o600))
	}

	got := runChild(t, bin, dir, []string{"SENTRY_DSN=" + recv.DSN()}, "flush")
	require.Equal(t, 0, got.exit, "stdout:\n%s\nstderr:\n%s", got.stdout, got.stderr)
	assert.Contains(t, got.stdout, "gocrash: flush: <nil>", "stderr:\n%s", got.stderr)

	// The child's Flush returned, so every post it made has been answered:
	// the control's event is there, and nothing else ever will be.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := recv.WaitEvents(ctx, 1)
	require.NoError(t, err, "the control crash never arrived")
	var ids []string
	for _, ev := range recv.Events() {
		ids = append(ids, ev.EventID)
	}
	assert.Equal(t, []string{controlEvent}, ids, "only the real crash is sent; no damaged run becomes an event")

	// Each damaged run is in quarantine, its raw bytes and its reason.
	qdir := filepath.Join(dir, "outbox", "quarantine")
	var wantQ []string
	for _, r := range damaged {
		wantQ = append(wantQ, r.id+".run", r.id+".run.reason")
		b, err := os.ReadFile(filepath.Join(qdir, r.id+".run"))
		if assert.NoError(t, err, r.id) {
			assert.Equal(t, r.content, b, "%s: the raw bytes are kept", r.id)
		}
		reason, err := os.ReadFile(filepath.Join(qdir, r.id+".run.reason"))
		if assert.NoError(t, err, r.id) {
			assert.Contains(t, string(reason), "\nreason: "+r.reason+"\n", r.id)
		}
	}
	sort.Strings(wantQ)
	qnames, err := os.ReadDir(qdir)
	require.NoError(t, err)
	var gotQ []string
	for _, de := range qnames {
		gotQ = append(gotQ, de.Name())
	}
	assert.Equal(t, wantQ, gotQ, "the quarantine holds the damaged runs and nothing else")

	// The next start lists nothing for them.
	g := newTestGuard(t, dir, recv.DSN())
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending)

	// Every planted run is gone (the child's own clean run too, collected by
	// Pending above); every foreign name is exactly as it was.
	assert.Equal(t, foreign, hrTree(t, runs))
	assert.Equal(t, outsideBefore, hrTree(t, outside))
}

// An unsafe runs/ (a link to another folder, writable by group, another
// user's): crashguard neither reads nor removes anything in it, sends
// nothing from it, and the program runs as it would without crashguard.
func TestHostileUnsafeRunsUntouched(t *testing.T) {
	bin := testprog(t, "gocrash")
	for _, c := range []struct {
		name string
		why  string // in the refusal
		// make turns dir/runs into the unsafe runs/ over the folder
		// holding the planted files, and returns that folder.
		make func(t *testing.T, runs string) string
	}{
		{"symlink", "is a symbolic link", func(t *testing.T, runs string) string {
			elsewhere := t.TempDir()
			require.NoError(t, os.Symlink(elsewhere, runs))
			return elsewhere
		}},
		{"group-writable", "is writable by group or others", func(t *testing.T, runs string) string {
			require.NoError(t, os.Mkdir(runs, 0o700))
			require.NoError(t, os.Chmod(runs, 0o770))
			return runs
		}},
		{"other-user", "is owned by another user", func(t *testing.T, runs string) string {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown runs/ to nobody (uid 65534)")
			}
			require.NoError(t, os.Mkdir(runs, 0o700))
			return runs
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			recv := sentrytest.New()
			t.Cleanup(recv.Close)
			dir, outside := t.TempDir(), t.TempDir()
			runs := filepath.Join(dir, "runs")
			planted := c.make(t, runs)
			hrPlantForeign(t, planted, outside)
			damaged, clean, control, _ := hrRuns(t)
			for _, r := range append([]hrRun{clean, control}, damaged...) {
				require.NoError(t, os.WriteFile(filepath.Join(planted, r.id+runfile.RunExt), r.content, 0o600))
			}
			// What the old orphan clean-up removed: a sibling without its run.
			require.NoError(t, os.WriteFile(filepath.Join(planted, hrID(30)+".flight"), []byte("theirs"), 0o600))
			if c.name == "other-user" {
				require.NoError(t, os.Chown(runs, 65534, 65534))
			}
			before := hrTree(t, planted)
			lbefore, err := os.Lstat(runs)
			require.NoError(t, err)

			// TMPDIR: wherever crashguard captures instead, it stays in the test.
			tmp := t.TempDir()
			off := runChild(t, bin, t.TempDir(), []string{"CRASHGUARD_DISABLE=1", "TMPDIR=" + tmp}, "flush")
			got := runChild(t, bin, dir, []string{"SENTRY_DSN=" + recv.DSN(), "TMPDIR=" + tmp}, "flush")
			t.Logf("child stdout:\n%s\nstderr:\n%s", got.stdout, got.stderr)
			assert.Equal(t, off.exit, got.exit, "exit status as without crashguard")
			assert.Contains(t, got.stderr, runs+" "+c.why, "the refusal names runs/ and why")
			assert.Equal(t, before, hrTree(t, planted), "nothing there is read into a report, removed or added")
			assert.Empty(t, recv.Events(), "no report is made from a refused runs/")
			lafter, err := os.Lstat(runs)
			require.NoError(t, err)
			assert.Equal(t, lbefore.Mode(), lafter.Mode(), "runs/ itself is left as it was")
		})
	}
}
