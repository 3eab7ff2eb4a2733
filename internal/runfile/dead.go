package runfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Dead is a run whose process has ended, claimed by this process for
// collection: its lock is held until Remove or Release, so two processes that
// start at once never collect the same run twice.
type Dead struct {
	ID   string
	Dir  string
	lock *os.File
}

// List returns the ids of all runs under runs, oldest first. A missing runs
// directory is not an error.
func List(runs string) ([]string, error) {
	entries, err := os.ReadDir(runs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runfile: list runs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Claim takes the lock of run id. It returns ErrAlive when the process is
// still running or another collector holds the run.
func Claim(runs, id string) (*Dead, error) {
	dir := filepath.Join(runs, id)
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// A run directory without a lock file died (or was cut short) in
		// Start before it held anything: treat it as dead, under a lock of
		// our own making so concurrent collectors still exclude each other.
		f, err = os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("runfile: open lock of %s: %w", id, err)
	}
	if err := lockFile(f, true); err != nil {
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, ErrAlive
		}
		return nil, fmt.Errorf("runfile: lock %s: %w", id, err)
	}
	// The collector that held the lock before us may have removed the run
	// already; a lock on an unlinked file protects nothing.
	if _, err := os.Lstat(filepath.Join(dir, LockName)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("runfile: %s vanished: %w", id, ErrAlive)
	}
	return &Dead{ID: id, Dir: dir, lock: f}, nil
}

// Path returns the path of a named file of the dead run.
func (d *Dead) Path(name string) string { return filepath.Join(d.Dir, name) }

// Meta reads the run's metadata.
func (d *Dead) Meta() (*Meta, error) { return readMeta(d.Path(MetaName)) }

// CrashOutput reads at most max bytes of the crash output. truncated is true
// when the file held more. modTime is when it was last written. A missing file
// reads as empty.
func (d *Dead) CrashOutput(max int64) (out []byte, truncated bool, modTime time.Time, err error) {
	f, err := os.OpenFile(d.Path(CrashName), os.O_RDONLY|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, time.Time{}, nil
	}
	if err != nil {
		return nil, false, time.Time{}, fmt.Errorf("runfile: open crash output: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, time.Time{}, fmt.Errorf("runfile: stat crash output: %w", err)
	}
	out, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, time.Time{}, fmt.Errorf("runfile: read crash output: %w", err)
	}
	if int64(len(out)) > max {
		out, truncated = out[:max], true
	}
	return out, truncated, st.ModTime(), nil
}

// Remove deletes the run's files and drops the lock. Call it once the run's
// report (if any) is safely in the outbox.
func (d *Dead) Remove() error {
	// Remove everything but the lock first, then the lock, then the dir: a
	// collector waiting on the lock sees it vanish (Claim's Lstat check).
	entries, _ := os.ReadDir(d.Dir)
	for _, e := range entries {
		if e.Name() != LockName {
			_ = os.RemoveAll(filepath.Join(d.Dir, e.Name()))
		}
	}
	_ = os.Remove(filepath.Join(d.Dir, LockName))
	_ = d.lock.Close()
	if err := os.Remove(d.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("runfile: remove run %s: %w", d.ID, err)
	}
	return nil
}

// Release drops the lock and leaves the files, for a later attempt.
func (d *Dead) Release() { _ = d.lock.Close() }
