// Package runfile manages the per-run files of a process that crashguard
// watches: the Go crash output file, the flight recorder, the run's metadata
// and the lock that says "this process is alive".
//
// Layout under the runs directory:
//
//	<runs>/<run-id>/lock       flock'd (exclusive) for the life of the process
//	<runs>/<run-id>/meta.json  who the process was (written once at start)
//	<runs>/<run-id>/crash.txt  debug.SetCrashOutput target
//	<runs>/<run-id>/flight.bin native flight recorder (when the native layer runs)
//
// A run is dead when its lock can be taken: the kernel drops an flock when the
// last descriptor of the open file description closes, which happens however
// the process ends (return, os.Exit, panic, SIGKILL). Unlike a pid file this
// cannot be fooled by pid reuse.
package runfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Names of the files inside a run directory.
const (
	LockName   = "lock"
	MetaName   = "meta.json"
	CrashName  = "crash.txt"
	FlightName = "flight.bin"
	// SuppressedName exists while OS crash report suppression is on.
	SuppressedName = "os-dumps-suppressed"
)

// ErrAlive is returned by Claim when the run's process still holds its lock
// (or another collector is working on it).
var ErrAlive = errors.New("runfile: run is alive or being collected")

// Run is the live run of the current process.
type Run struct {
	// ID names the run: start time, pid and random bytes, so ids sort by start.
	ID string
	// Dir is the run's directory.
	Dir string
	// CrashFile is open for writing; hand it to debug.SetCrashOutput.
	CrashFile *os.File
	lock      *os.File
}

// Start creates a new run directory under runs, takes its lock and opens the
// crash output file. The lock is held until the process ends.
func Start(runs string, meta *Meta) (*Run, error) {
	if err := os.MkdirAll(runs, 0o700); err != nil {
		return nil, fmt.Errorf("runfile: create runs dir: %w", err)
	}
	id, err := newID(meta.PID, meta.StartTime)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(runs, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runfile: create run dir: %w", err)
	}
	r := &Run{ID: id, Dir: dir}
	fail := func(err error) (*Run, error) {
		r.release()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// The lock is taken before anything else exists in the directory, so a
	// collector that sees the directory either fails to lock (alive) or sees
	// a run that died during Start (no crash output: removed, no report).
	lock, err := openExclusive(filepath.Join(dir, LockName))
	if err != nil {
		return fail(err)
	}
	r.lock = lock
	if err := lockFile(lock, false); err != nil {
		return fail(fmt.Errorf("runfile: lock new run: %w", err))
	}
	meta.RunID = id
	if err := writeMeta(filepath.Join(dir, MetaName), meta); err != nil {
		return fail(err)
	}
	crash, err := openExclusive(filepath.Join(dir, CrashName))
	if err != nil {
		return fail(err)
	}
	r.CrashFile = crash
	return r, nil
}

// Path returns the path of a named file of the run.
func (r *Run) Path(name string) string { return filepath.Join(r.Dir, name) }

// release closes the run's descriptors. A live process never calls it: the
// lock must be held until the kernel drops it at exit. Tests and failed
// starts use it.
func (r *Run) release() {
	if r.CrashFile != nil {
		_ = r.CrashFile.Close()
	}
	if r.lock != nil {
		_ = r.lock.Close()
	}
}

// Abandon ends the run as if the process had exited normally: the lock is
// dropped and the files are removed. For Install failing halfway, and tests.
func (r *Run) Abandon() error {
	r.release()
	return os.RemoveAll(r.Dir)
}

func newID(pid int, start time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("runfile: random id: %w", err)
	}
	return start.UTC().Format("20060102T150405.000000000Z") + "-" +
		strconv.Itoa(pid) + "-" + hex.EncodeToString(b[:]), nil
}

func openExclusive(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runfile: %w", err)
	}
	return f, nil
}
