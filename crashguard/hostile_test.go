//go:build unix

package crashguard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// The hostile-conditions suite: the directories, disks and servers real
// machines have, met by real child processes through the public API, each
// compared with a CRASHGUARD_DISABLE=1 run of the same program.

// usageBin is the README's Usage block, built as it stands.
func usageBin(t *testing.T) string { return testprogCgo(t, "examples/usage", true) }

// minimalEnv is what a systemd unit or `env -i` gives a program: no $HOME,
// no XDG_CACHE_HOME, no CRASHGUARD_DIR; TMPDIR points at tmp so the
// fallback directory lands inside the test.
func minimalEnv(tmp string, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp}, extra...)
}

// fallbackDir is where crashguard captures when the configured directory
// cannot be used, for a program named exe run with TMPDIR=tmp.
func fallbackDir(tmp, exe string) string {
	return filepath.Join(tmp, fmt.Sprintf("crashguard-%d", os.Geteuid()), filepath.Base(exe))
}

// withoutCrashguardLines drops the lines crashguard's own error logging adds,
// so that the rest of stderr can be compared with a disabled run.
func withoutCrashguardLines(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "crashguard: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// sameAsDisabled runs bin with env twice, with and without
// CRASHGUARD_DISABLE=1, and asserts the same exit status, stdout and
// (crashguard's own log lines aside) stderr. It returns the enabled run.
func sameAsDisabled(t *testing.T, bin string, env []string, args ...string) childResult {
	t.Helper()
	off := runChildEnv(t, bin, append(append([]string{}, env...), "CRASHGUARD_DISABLE=1"), args...).result
	on := runChildEnv(t, bin, env, args...).result
	assert.Equal(t, off.exit, on.exit, "exit status\nwith crashguard:\n%s\nwithout:\n%s", on.stderr, off.stderr)
	assert.Equal(t, off.signal, on.signal)
	if !strings.Contains(strings.Join(args, " "), "panic") {
		assert.Equal(t, off.stdout, on.stdout)
		assert.Equal(t, withoutCrashguardLines(off.stderr), withoutCrashguardLines(on.stderr))
	}
	return on
}

func TestNilAndInertGuardMethodsAreSafe(t *testing.T) {
	var nilGuard *Guard
	assert.Equal(t, Layers{}, nilGuard.Layers())
	assert.Equal(t, "", nilGuard.Dir())
	assert.Equal(t, "", nilGuard.RunID())
	assert.NoError(t, nilGuard.Flush(context.Background()))
	reps, err := nilGuard.Pending()
	assert.NoError(t, err)
	assert.Empty(t, reps)
	assert.ErrorIs(t, nilGuard.SuppressOSCrashReports(true), ErrDisabled)

	// Every candidate directory is a file: nothing can be captured. This
	// runs in the test process, which is safe because install stops before
	// debug.SetCrashOutput when it has no run.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	s := resolve(Options{Dir: file})
	s.dirs = []string{file, filepath.Join(file, "fallback")}
	g := install(Options{}, s)
	require.NotNil(t, g)
	require.ErrorIs(t, g.err, ErrDirUnusable)
	assert.Contains(t, g.err.Error(), file+": ")
	assert.Equal(t, Layers{}, g.Layers())
	assert.Equal(t, "", g.RunID())
	assert.ErrorIs(t, g.Flush(context.Background()), ErrDirUnusable)
	reps, err = g.Pending()
	assert.ErrorIs(t, err, ErrDirUnusable)
	assert.Empty(t, reps)
	assert.ErrorIs(t, g.SuppressOSCrashReports(true), ErrDirUnusable)
	assert.NoFileExists(t, filepath.Join(file, "runs"))
}

func TestUsageExampleRunsUnderHostileDirectories(t *testing.T) {
	bin := usageBin(t)
	for _, c := range []struct {
		name string
		// setup returns the CRASHGUARD_DIR to use ("" for none) and the
		// text the refusal must contain ("" when nothing is refused).
		setup   func(t *testing.T, tmp string) (dir, refused string)
		noCache bool
	}{
		{name: "no-home", setup: func(t *testing.T, tmp string) (string, string) { return "", "" }},
		{name: "dir-is-a-file", setup: func(t *testing.T, tmp string) (string, string) {
			f := filepath.Join(tmp, "afile")
			require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
			return f, "not a directory"
		}},
		{name: "read-only-dir", setup: func(t *testing.T, tmp string) (string, string) {
			return readOnlyDir(t, tmp), "read-only file system"
		}},
		{name: "world-writable-dir", setup: func(t *testing.T, tmp string) (string, string) {
			d := filepath.Join(tmp, "ww")
			require.NoError(t, os.Mkdir(d, 0o700))
			require.NoError(t, os.Chmod(d, 0o777))
			return d, "is writable by group or others"
		}},
		{name: "other-users-dir", setup: func(t *testing.T, tmp string) (string, string) {
			uid := nobodyUID(t)
			d := filepath.Join(tmp, "theirs")
			require.NoError(t, os.Mkdir(d, 0o755))
			require.NoError(t, os.Chown(d, uid, uid))
			return d, fmt.Sprintf("is owned by another user (uid %d", uid)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir, refused := c.setup(t, tmp)
			env := minimalEnv(tmp)
			if dir != "" {
				env = append(env, "CRASHGUARD_DIR="+dir)
			}
			var before []os.DirEntry
			if fi, err := os.Stat(dir); dir != "" && err == nil && fi.IsDir() {
				before, _ = os.ReadDir(dir)
			}
			res := sameAsDisabled(t, bin, env)
			assert.Equal(t, 0, res.exit)
			assert.Equal(t, "my-app: doing its work\n", res.stdout)
			fb := fallbackDir(tmp, bin)
			if refused == "" {
				assert.Empty(t, res.stderr)
			} else {
				assert.Contains(t, res.stderr, "crashguard: directory unusable: "+dir+": ")
				assert.Contains(t, res.stderr, refused)
				assert.Contains(t, res.stderr, "capturing in "+fb+" instead")
				after, _ := os.ReadDir(dir)
				assert.Equal(t, len(before), len(after), "the refused directory is left as it was")
			}
			// Capture went to the fallback, made private to this user.
			for _, d := range []string{filepath.Dir(fb), fb, filepath.Join(fb, "runs"), filepath.Join(fb, "outbox")} {
				fi, err := os.Lstat(d)
				require.NoError(t, err)
				assert.True(t, fi.IsDir(), d)
				assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
			}
		})
	}
}

func TestCrashWithoutHomeIsCapturedInTheFallback(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	tmp := t.TempDir()
	res := sameAsDisabled(t, bin, minimalEnv(tmp), "panic-main")
	assert.Equal(t, 2, res.exit)
	assert.Contains(t, res.stdout, "gocrash: installed run=")

	g := newTestGuard(t, fallbackDir(tmp, bin), "")
	pending, err := g.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "gocrash: deliberate panic in main", pending[0].Message)
}

func TestUnusableOutboxKeepsCaptureAndLosesNothing(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	elsewhere := t.TempDir()
	planted := filepath.Join(elsewhere, "keep.txt")
	require.NoError(t, os.WriteFile(planted, []byte("not crashguard's"), 0o600))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "outbox")))

	env := []string{"SENTRY_DSN=" + recv.DSN()}
	res := runChild(t, bin, dir, env, "panic-main")
	require.Equal(t, 2, res.exit, res.stderr)
	assert.Contains(t, res.stderr, "gocrash: install: crashguard: directory unusable: outbox in "+dir)
	assert.Contains(t, res.stdout, "layers=crash-output")
	// The crash is in runs/, not lost, and the link's target is untouched.
	ids, err := runfile.List(filepath.Join(dir, "runs"))
	require.NoError(t, err)
	assert.Len(t, ids, 1)
	got, err := os.ReadFile(planted)
	require.NoError(t, err)
	assert.Equal(t, "not crashguard's", string(got))
	entries, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	// Once the outbox is usable, the next start delivers the crash.
	require.NoError(t, os.Remove(filepath.Join(dir, "outbox")))
	next := runChild(t, bin, dir, env, "flush")
	assert.Equal(t, 0, next.exit, next.stderr)
	assert.Contains(t, next.stdout, "gocrash: flush: <nil>")
	evs := recv.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, "fatal", evs[0].Event["level"])
}

func TestDeferredFlushIsBoundedWhenSentryNeverAnswers(t *testing.T) {
	gocrash := testprogCgo(t, "gocrash", false)
	bin := usageBin(t)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	recv.Slow(time.Hour) // accepts the connection, never answers
	dir := t.TempDir()
	for range 3 {
		crashOnce(t, gocrash, dir)
	}

	env := append(baseEnv(), "CRASHGUARD_DIR="+dir, "SENTRY_DSN="+recv.DSN())
	start := time.Now()
	res := runChildEnv(t, bin, env).result
	took := time.Since(start)
	assert.Equal(t, 0, res.exit, res.stderr)
	assert.Empty(t, res.stderr)
	// The bound is DefaultFlushTimeout; the rest is process start and the
	// collection of three runs. Before the bound it took 150 s and more.
	assert.Less(t, took, DefaultFlushTimeout+8*time.Second, "a deferred Flush held up exit")
	t.Logf("exit after %v with a hanging Sentry and 3 pending reports", took.Round(time.Millisecond))

	g := newTestGuard(t, dir, "")
	pending, err := g.Pending()
	require.NoError(t, err)
	assert.Len(t, pending, 3, "nothing delivered, nothing lost")
}

// hangingSentryWithOneCrash is a Guard over a directory holding one crash,
// whose Sentry accepts connections and never answers.
func hangingSentryWithOneCrash(t *testing.T) (*Guard, *sentrytest.Server) {
	t.Helper()
	gocrash := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	recv.Slow(time.Hour)
	dir := t.TempDir()
	crashOnce(t, gocrash, dir)
	return newTestGuard(t, dir, recv.DSN()), recv
}

func TestFlushThatLeavesReportsMatchesErrNotDelivered(t *testing.T) {
	g, _ := hangingSentryWithOneCrash(t)

	// The context ends while the post hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := g.Flush(ctx)
	assert.ErrorIs(t, err, ErrNotDelivered)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// The context ends while Flush waits for another one.
	g.flushSem <- struct{}{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	err = g.Flush(ctx2)
	<-g.flushSem
	assert.ErrorIs(t, err, ErrNotDelivered)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestFlushTakesOverFromAStuckBackgroundPass(t *testing.T) {
	g, recv := hangingSentryWithOneCrash(t)
	g.opts.FlushTimeout = 500 * time.Millisecond
	g.startBackground() // what Install starts: its post would wait 30 s

	require.Eventually(t, func() bool { return recv.Counts().Requests > 0 }, 20*time.Second, 5*time.Millisecond,
		"the background pass never posted")
	start := time.Now()
	err := g.Flush(context.Background())
	took := time.Since(start)
	assert.ErrorIs(t, err, ErrNotDelivered)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, 10*time.Second, "Flush waited behind the background pass")
	t.Logf("Flush returned after %v", took.Round(time.Millisecond))
}

func TestProgramsOwnSetCrashOutput(t *testing.T) {
	bin := testprogCgo(t, "ownoutput", false)
	for _, order := range []string{"before", "after"} {
		t.Run(order, func(t *testing.T) {
			dir := t.TempDir()
			own := filepath.Join(t.TempDir(), "own-crash.txt")
			res := runChild(t, bin, dir, []string{"OWNOUTPUT_FILE=" + own}, order)
			require.Equal(t, 2, res.exit, res.stderr)
			assert.Contains(t, res.stderr, "panic: ownoutput: deliberate panic")
			ownOut, err := os.ReadFile(own)
			require.NoError(t, err)

			g := newTestGuard(t, dir, "")
			pending, err := g.Pending()
			require.NoError(t, err)
			switch order {
			case "before":
				// Install's SetCrashOutput replaces the program's: the
				// report has the crash, the program's file stays empty.
				assert.Empty(t, ownOut)
				require.Len(t, pending, 1)
				assert.Equal(t, "ownoutput: deliberate panic", pending[0].Message)
			case "after":
				// The program's replaces crashguard's: its file has the
				// crash, and crashguard, with no evidence, invents nothing.
				assert.Contains(t, string(ownOut), "panic: ownoutput: deliberate panic")
				assert.Empty(t, pending)
			}
		})
	}
}

// readOnlyDir returns a directory nobody can write, not even root: a
// read-only tmpfs when the test runs as root, else a 0555 directory.
func readOnlyDir(t *testing.T, tmp string) string {
	t.Helper()
	d := filepath.Join(tmp, "ro")
	require.NoError(t, os.Mkdir(d, 0o700))
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(d, 0o555))
		t.Cleanup(func() { _ = os.Chmod(d, 0o700) })
		return d
	}
	mount(t, d, "ro,size=64k")
	return d
}

// mount mounts a tmpfs at d with opts and unmounts it at the end.
func mount(t *testing.T, d, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs; run the tests as root to cover this")
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", d).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", d).Run() })
}

// nobodyUID is another user's uid for ownership tests; they need root.
func nobodyUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a directory owned by another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(t, err)
	return uid
}

func TestSymlinkedDirIsFollowedButSymlinkedRunsIsRefused(t *testing.T) {
	bin := usageBin(t)
	tmp := t.TempDir()

	// Dir itself is the user's choice: a link to a directory of theirs is
	// followed, and its target is what is checked and used.
	target := filepath.Join(tmp, "target")
	require.NoError(t, os.Mkdir(target, 0o700))
	link := filepath.Join(tmp, "link")
	require.NoError(t, os.Symlink(target, link))
	res := sameAsDisabled(t, bin, minimalEnv(tmp, "CRASHGUARD_DIR="+link))
	assert.Empty(t, res.stderr)
	assert.DirExists(t, filepath.Join(target, "runs"))
	assert.NoDirExists(t, fallbackDir(tmp, bin))

	// runs/ as a link could point anywhere (crashguard removes files
	// there): refused, capture goes to the fallback, the link's target is
	// left alone.
	dir := filepath.Join(tmp, "dir")
	other := filepath.Join(tmp, "other")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Mkdir(other, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(other, "x.run"), []byte("theirs"), 0o600))
	require.NoError(t, os.Symlink(other, filepath.Join(dir, "runs")))
	res = sameAsDisabled(t, bin, minimalEnv(tmp, "CRASHGUARD_DIR="+dir))
	assert.Contains(t, res.stderr, "crashguard: directory unusable: "+dir+": ")
	assert.Contains(t, res.stderr, "is a symbolic link")
	assert.Contains(t, res.stderr, "capturing in "+fallbackDir(tmp, bin)+" instead")
	got, err := os.ReadFile(filepath.Join(other, "x.run"))
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(got))
}

func TestFullDiskLosesNoReport(t *testing.T) {
	bin := testprogCgo(t, "gocrash", false)
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	tmp := t.TempDir()
	disk := filepath.Join(tmp, "disk")
	require.NoError(t, os.Mkdir(disk, 0o700))
	mount(t, disk, "size=1m,mode=0700")
	dir := filepath.Join(disk, "cg")
	env := minimalEnv(tmp, "CRASHGUARD_DIR="+dir)
	withDSN := append(append([]string{}, env...), "SENTRY_DSN="+recv.DSN())

	// 1. A crash while there is room.
	res := runChildEnv(t, bin, env, "panic-main").result
	require.Equal(t, 2, res.exit, res.stderr)
	// 2. The disk fills up.
	fill(t, filepath.Join(disk, "filler"))
	// 3. A crash with the disk full is captured in the fallback, and the
	// program behaves as without crashguard.
	res = sameAsDisabled(t, bin, env, "panic-main")
	require.Equal(t, 2, res.exit, res.stderr)
	assert.Contains(t, res.stderr, "no space left on device")
	assert.Contains(t, res.stderr, "capturing in "+fallbackDir(tmp, bin)+" instead")
	// 4. The next start, disk still full and no DSN: it works from the
	// fallback and takes both crashes into the fallback's outbox (collecting
	// the first one frees its run files on the full disk).
	res = runChildEnv(t, bin, env, "flush").result
	require.Equal(t, 0, res.exit, res.stderr)
	assert.Contains(t, res.stdout, "gocrash: flush: crashguard: no Sentry DSN")
	ids, err := runfile.List(filepath.Join(dir, "runs"))
	require.NoError(t, err)
	assert.Empty(t, ids)
	fb := newTestGuard(t, fallbackDir(tmp, bin), "")
	pending, err := fb.Pending()
	require.NoError(t, err)
	assert.Len(t, pending, 2, "both crashes are kept")
	// 5. Space returns: the next start delivers both crashes, once each.
	require.NoError(t, os.Remove(filepath.Join(disk, "filler")))
	res = runChildEnv(t, bin, withDSN, "flush").result
	require.Equal(t, 0, res.exit, res.stderr)
	assert.Contains(t, res.stdout, "gocrash: flush: <nil>")
	evs := recv.Events()
	ids = nil
	for _, e := range evs {
		ids = append(ids, e.Event["event_id"].(string))
	}
	assert.Len(t, evs, 2, "events %v", ids)
	assert.NotEqual(t, ids[0], ids[len(ids)-1])
	for _, d := range []string{dir, fallbackDir(tmp, bin)} {
		pending, err := newTestGuard(t, d, "").Pending()
		require.NoError(t, err)
		assert.Empty(t, pending, d)
	}
}

// fill writes to path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return
		}
	}
}
