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

	"github.com/crashguard/crashguard-go/internal/safedir"
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
// directory is not an error; one that is not safe (a symbolic link, another
// user's, writable by group or others: safedir.Check) is refused with an
// error matching safedir.ErrUnsafe, and nothing in it is touched.
//
// Only names crashguard could have made count: a valid id (ValidID) with
// one of the run suffixes. A flight recorder or suppression marker left
// without its run file (a collector that died between removals) is removed
// when it is a regular file; everything else is left alone, whatever it is.
func List(runs string) ([]string, error) {
	if err := safedir.Check(runs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("runfile: runs directory: %w", err)
	}
	entries, err := os.ReadDir(runs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runfile: list runs: %w", err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), RunExt); ok && ValidID(id) && e.Type().IsRegular() {
			have[id] = true
		}
	}
	var ids []string
	for _, e := range entries {
		id, suffix, ok := splitName(e.Name())
		if !ok {
			continue // not a name of ours
		}
		if suffix == RunExt {
			if have[id] {
				ids = append(ids, id)
			}
			continue
		}
		// Start creates (or takes over) the run file before any sibling,
		// and Remove deletes it last, so a sibling without one is an
		// orphan. Only a regular file: a link or directory at our name was
		// not made by us. The run file is looked for once more first: a
		// listing taken while a run starts may show its sibling and miss
		// the run file itself.
		if !have[id] && e.Type().IsRegular() {
			if _, err := os.Lstat(filepath.Join(runs, id+RunExt)); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(filepath.Join(runs, e.Name()))
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// splitName splits a file name in a runs directory into a valid run id and
// one of the suffixes a run's files have; ok is false for any other name.
func splitName(name string) (id, suffix string, ok bool) {
	for _, suffix := range []string{RunExt, "." + FlightName, "." + SuppressedName, "." + ScopeName} {
		if id, found := strings.CutSuffix(name, suffix); found && ValidID(id) {
			return id, suffix, true
		}
	}
	return "", "", false
}

// Claim takes the lock of run id. It returns ErrAlive when the process is
// still running or another collector holds the run.
func Claim(runs, id string) (*Dead, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("runfile: %q is not a run id", id)
	}
	d := &Dead{ID: id, Runs: runs}
	// O_NONBLOCK: a FIFO planted at a run name must not block the open.
	f, err := os.OpenFile(d.file(), os.O_RDONLY|noFollow|nonBlock, 0)
	if err != nil {
		return nil, fmt.Errorf("runfile: open run %s: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("runfile: run %s is not a regular file", id)
	}
	if err := lockFile(f, true); err != nil {
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, ErrAlive
		}
		return nil, fmt.Errorf("runfile: lock %s: %w", id, err)
	}
	// The collector that held the lock before us may have removed the run
	// already, or a start taken it over (renamed it to its own id); a lock
	// on a file that is no longer the run protects nothing.
	if li, err := os.Lstat(d.file()); err != nil || !os.SameFile(st, li) {
		_ = f.Close()
		return nil, fmt.Errorf("runfile: %s vanished: %w", id, ErrAlive)
	}
	d.f = f
	return d, nil
}

func (d *Dead) file() string { return filepath.Join(d.Runs, d.ID+RunExt) }

// Path returns the path of the run's named sibling file.
func (d *Dead) Path(name string) string { return filepath.Join(d.Runs, d.ID+"."+name) }

// Content is what a dead run's file holds.
type Content struct {
	// Meta is the metadata line, or nil when it is missing or unusable: not
	// JSON, or not naming this run (a run that died in Start, or a file
	// that was damaged).
	Meta *Meta
	// MetaErr says why Meta is nil; nil when Meta is set or the file is
	// empty.
	MetaErr error
	// Output is what follows the metadata line: the crash output, if the
	// process crashed. With no usable metadata it is the whole file, since
	// a crash output may still follow the damaged line and must not be
	// lost; the collector decides where it starts.
	Output []byte
	// Truncated is true when Output was cut at the limit given to Read.
	Truncated bool
	// Raw is everything read from the file (metadata line and output).
	Raw []byte
	// Size is the file's size and ModTime when it was last written.
	Size    int64
	ModTime time.Time
}

// Read returns the run file's content, with at most max bytes of crash
// output. A broken metadata line is not an error (see Content.Meta).
func (d *Dead) Read(max int64) (*Content, error) {
	st, err := d.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("runfile: stat run: %w", err)
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("runfile: read run: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(d.f, maxMetaSize+max+1))
	if err != nil {
		return nil, fmt.Errorf("runfile: read run: %w", err)
	}
	c := &Content{Raw: b, Size: st.Size(), ModTime: st.ModTime()}
	line, out := splitMeta(b)
	var m Meta
	switch err := json.Unmarshal(line, &m); {
	case len(b) == 0:
	case err != nil:
		c.MetaErr = fmt.Errorf("metadata line is not JSON: %w", err)
	case m.RunID != d.ID:
		c.MetaErr = fmt.Errorf("metadata names run %q", m.RunID)
	default:
		c.Meta = &m
	}
	if c.Meta == nil {
		out = b // no usable metadata line: everything may be output
	}
	if int64(len(out)) > max {
		out, c.Truncated = out[:max], true
	}
	c.Output = out
	return c, nil
}

// Remove deletes the run's files and drops the lock. Call it once the run's
// report (if any) is safely in the outbox. The run file goes last: a
// collector waiting on the lock then sees it vanish (Claim's Lstat check).
func (d *Dead) Remove() error {
	removeRegular(d.Path(FlightName))
	removeRegular(d.Path(SuppressedName))
	removeRegular(d.Path(ScopeName))
	err := os.Remove(d.file())
	_ = d.f.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("runfile: remove run %s: %w", d.ID, err)
	}
	return nil
}

// Release drops the lock and leaves the files, for a later attempt.
func (d *Dead) Release() { _ = d.f.Close() }

// removeRegular removes path if it is a regular file: a link or directory
// squatting a sibling's name is not crashguard's to remove.
func removeRegular(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		_ = os.Remove(path)
	}
}
