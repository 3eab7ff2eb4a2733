// Package runfile manages the per-run files of a process that crashguard
// watches: the run file (the lock that says "this process is alive", who the
// process is, and the Go crash output), and the flight recorder beside it.
//
// Layout under the runs directory:
//
//	<runs>/<run-id>.run         flock'd for the life of the process; one line of
//	                            metadata (JSON), then the Go crash output, which
//	                            debug.SetCrashOutput appends through the same
//	                            open file description
//	<runs>/<run-id>.flight      native flight recorder (when the native layer runs)
//	<runs>/<run-id>.suppressed  exists while OS crash report suppression is on
//	<runs>/<run-id>.scope       sentry-go scope snapshots (internal/scopesnap)
//
// One file carries lock, metadata and crash output because creating a file is
// the dominant cost of Install (about 190µs each on an ext4 VM disk, where
// writing and locking are a few µs), and Install runs at every start. For
// the same reason Start takes over the files of a dead run that ended
// cleanly (renamed and rewritten) rather than create new ones; that also
// keeps runs/ from growing with every start of a short-lived program.
//
// A run is dead when its lock can be taken: the kernel drops an flock when the
// last descriptor of the open file description closes, which happens however
// the process ends (return, os.Exit, panic, SIGKILL). Unlike a pid file this
// cannot be fooled by pid reuse.
//
// The runs directory is trusted only when it is crashguard's own
// (safedir.Ensure, safedir.Check): a symbolic link, another user's directory
// or one that group or others can write to is refused, with nothing in it
// read or removed. Inside it, only names of the exact form a run's files
// have (ValidID plus one of the suffixes above) are ever read or removed,
// and links are never followed; whatever else is there is left alone.
package runfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crashguard/crashguard-go/internal/safedir"
)

// Suffixes of the files of a run.
const (
	// RunExt is the run file: lock, metadata line, crash output.
	RunExt = ".run"
	// FlightName is the flight recorder, for Path.
	FlightName = "flight"
	// SuppressedName exists while OS crash report suppression is on.
	SuppressedName = "suppressed"
	// ScopeName holds the sentry-go scope snapshots (internal/scopesnap).
	ScopeName = "scope"
)

// ErrAlive is returned by Claim when the run's process still holds its lock
// (or another collector is working on it).
var ErrAlive = errors.New("runfile: run is alive or being collected")

// Run is the live run of the current process.
type Run struct {
	// ID names the run: start time, pid and random bytes, so ids sort by start.
	ID string
	// Runs is the directory holding the run's files.
	Runs string
	// CrashFile is the run file, positioned after the metadata line: hand it
	// to debug.SetCrashOutput. Its descriptor holds the lock; never close it.
	CrashFile *os.File
	// Reused is true when the run's files were taken over from a dead
	// clean run (the flight recorder, if it had one, is beside it under
	// this run's name, for flightrec.Create to take over).
	Reused bool
	// Predecessor is the metadata of the clean dead run whose files were
	// taken over (Reused) when that run was a session (Meta.Session); nil
	// otherwise or when its line could not be read back: the start that
	// takes a run over is the one that ends it, so it ends that session.
	Predecessor *Meta
}

// Start starts this process's run under runs: it locks a run file, writes
// meta as its first line and keeps the lock until the process ends.
//
// The run file is taken over from a dead run that ended cleanly when one
// is at hand (takeOver): renamed to this run's id and rewritten, with its
// flight recorder renamed beside it for flightrec.Create to take over too.
// That costs a rename instead of two file creations, and it is what keeps
// runs/ bounded however short-lived the program is: every start that finds
// a clean dead run reuses it instead of adding one. Otherwise a new file is
// created.
func Start(runs string, meta *Meta) (*Run, error) {
	// The collector trusts what it finds in runs/ and removes files there:
	// never a link to elsewhere, another user's or a shared directory.
	if err := safedir.Ensure(runs); err != nil {
		return nil, fmt.Errorf("runfile: runs directory: %w", err)
	}
	id, err := newID(meta.Process.PID, meta.Process.StartTime)
	if err != nil {
		return nil, err
	}
	meta.RunID = id
	line := append(appendMeta(make([]byte, 0, 4096), meta), '\n')
	r := &Run{ID: id, Runs: runs}
	if f, prev := r.takeOver(line); f != nil {
		r.CrashFile = f
		r.Reused = true
		r.Predecessor = prev
		return r, nil
	}
	f, err := os.OpenFile(r.file(), os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runfile: create run: %w", err)
	}
	// Locked before anything is written, so a collector never reads a half
	// written line as a dead run's; a run that died before its line is
	// complete has no crash output and is simply removed.
	if err := lockFile(f, false); err != nil {
		_ = f.Close()
		_ = os.Remove(r.file())
		return nil, fmt.Errorf("runfile: lock new run: %w", err)
	}
	// No fsync: if the machine (not the process) dies, the run is lost with
	// it anyway, and Install must stay cheap. The page cache outlives the
	// process, which is what matters here.
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		_ = os.Remove(r.file())
		return nil, fmt.Errorf("runfile: write meta: %w", err)
	}
	r.CrashFile = f
	return r, nil
}

// Path returns the path of the run's named sibling file (FlightName,
// SuppressedName).
func (r *Run) Path(name string) string { return filepath.Join(r.Runs, r.ID+"."+name) }

func (r *Run) file() string { return filepath.Join(r.Runs, r.ID+RunExt) }

// Abandon ends the run as if the process had exited normally: the lock is
// dropped and the files are removed. For Install failing halfway, and tests.
func (r *Run) Abandon() error {
	if r.CrashFile != nil {
		_ = r.CrashFile.Close()
	}
	removeRegular(r.Path(FlightName))
	removeRegular(r.Path(SuppressedName))
	removeRegular(r.Path(ScopeName))
	return os.Remove(r.file())
}

// idTimeLayout is the start-time part of a run id.
const idTimeLayout = "20060102T150405.000000000Z"

// ValidID reports whether id has exactly the form newID makes: the start
// time in idTimeLayout, "-", the pid in decimal, "-", 12 lowercase hex
// digits. Only files named after such an id are crashguard's to read or
// remove.
func ValidID(id string) bool {
	const tl = len(idTimeLayout)
	if len(id) < tl+1+1+1+12 || id[tl] != '-' {
		return false
	}
	for i := 0; i < tl; i++ {
		c, l := id[i], idTimeLayout[i]
		if l >= '0' && l <= '9' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != l {
			return false
		}
	}
	pid, random, ok := strings.Cut(id[tl+1:], "-")
	if !ok || len(pid) == 0 || len(pid) > 10 || (pid[0] == '0' && len(pid) > 1) || len(random) != 12 {
		return false
	}
	for i := 0; i < len(pid); i++ {
		if pid[i] < '0' || pid[i] > '9' {
			return false
		}
	}
	for i := 0; i < len(random); i++ {
		if c := random[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newID(pid int, start time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("runfile: random id: %w", err)
	}
	return start.UTC().Format(idTimeLayout) + "-" +
		strconv.Itoa(pid) + "-" + hex.EncodeToString(b[:]), nil
}

// splitMeta splits a run file's content into the metadata line and the
// crash output after it.
func splitMeta(b []byte) (meta, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}
