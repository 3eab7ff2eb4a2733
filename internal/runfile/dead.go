package runfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// maxMetaSize caps the metadata line: a few KiB at most in practice (the
// dependency list dominates); anything larger is not ours.
const maxMetaSize = 1 << 20

// Dead is a run whose process has ended, claimed by this process for
// collection: its lock is held until Remove or Release, so two processes that
// start at once never collect the same run twice.
type Dead struct {
	ID   string
	Runs string
	f    *os.File
}

// List returns the ids of all runs under runs, oldest first. A missing runs
// directory is not an error. Sibling files left without a run file (a
// collector that died between removals) are removed.
func List(runs string) ([]string, error) {
	entries, err := os.ReadDir(runs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runfile: list runs: %w", err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), RunExt); ok && e.Type().IsRegular() {
			have[id] = true
		}
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if id, ok := strings.CutSuffix(name, RunExt); ok {
			if have[id] {
				ids = append(ids, id)
			}
			continue
		}
		// Start creates the run file before any sibling, and Remove
		// deletes it last, so a sibling without one is an orphan.
		// Ids hold a dot themselves (fractional seconds): the suffix is
		// what follows the last one.
		if i := strings.LastIndexByte(name, '.'); i > 0 && !have[name[:i]] {
			_ = os.Remove(filepath.Join(runs, name))
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Claim takes the lock of run id. It returns ErrAlive when the process is
// still running or another collector holds the run.
func Claim(runs, id string) (*Dead, error) {
	d := &Dead{ID: id, Runs: runs}
	f, err := os.OpenFile(d.file(), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("runfile: open run %s: %w", id, err)
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
	if _, err := os.Lstat(d.file()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("runfile: %s vanished: %w", id, ErrAlive)
	}
	d.f = f
	return d, nil
}

func (d *Dead) file() string { return filepath.Join(d.Runs, d.ID+RunExt) }

// Path returns the path of the run's named sibling file.
func (d *Dead) Path(name string) string { return filepath.Join(d.Runs, d.ID+"."+name) }

// Read returns the run's metadata and at most max bytes of its crash output;
// truncated is true when there was more, modTime is when the run file was
// last written. A run whose metadata line is missing or broken (it died in
// Start, or the file was damaged) returns a nil Meta and no error: its crash
// output, if any, must still be reported.
func (d *Dead) Read(max int64) (meta *Meta, out []byte, truncated bool, modTime time.Time, err error) {
	st, err := d.f.Stat()
	if err != nil {
		return nil, nil, false, time.Time{}, fmt.Errorf("runfile: stat run: %w", err)
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, false, time.Time{}, fmt.Errorf("runfile: read run: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(d.f, maxMetaSize+max+1))
	if err != nil {
		return nil, nil, false, time.Time{}, fmt.Errorf("runfile: read run: %w", err)
	}
	line, out := splitMeta(b)
	var m Meta
	if json.Unmarshal(line, &m) == nil {
		meta = &m
	} else {
		out = b // no usable metadata line: everything is output
	}
	if int64(len(out)) > max {
		out, truncated = out[:max], true
	}
	return meta, out, truncated, st.ModTime(), nil
}

// Remove deletes the run's files and drops the lock. Call it once the run's
// report (if any) is safely in the outbox. The run file goes last: a
// collector waiting on the lock then sees it vanish (Claim's Lstat check).
func (d *Dead) Remove() error {
	_ = os.Remove(d.Path(FlightName))
	_ = os.Remove(d.Path(SuppressedName))
	err := os.Remove(d.file())
	_ = d.f.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("runfile: remove run %s: %w", d.ID, err)
	}
	return nil
}

// Release drops the lock and leaves the files, for a later attempt.
func (d *Dead) Release() { _ = d.f.Close() }
