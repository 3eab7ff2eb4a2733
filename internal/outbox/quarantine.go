package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// quarantineName moves D/name into D/quarantine/ and writes a sibling
// <name>.reason text file saying what the file was, when and why, followed
// by details (may be empty). A name already taken in quarantine/ gets a
// timestamp suffix, so nothing quarantined earlier is overwritten.
//
// Quarantine is for people: nothing reads it back. It is never expired by
// age; only the QuarantineKeep cap removes the oldest entries, so a crash
// loop that writes broken reports cannot fill the disk.
//
// For a report file the caller must hold its claim, or know that it cannot
// be claimed (not a regular file).
func (o *Outbox) quarantineName(name, reason, details string) error {
	o.qMu.Lock()
	defer o.qMu.Unlock()
	// Someone may have removed quarantine/ since Open; quarantine must work.
	if err := ensureDir(o.qdir); err != nil {
		o.log.Error("outbox: cannot quarantine", "file", name, "reason", reason, "err", err)
		return err
	}
	now := o.now()
	text := fmt.Sprintf("file: %s\ntime: %s\nreason: %s\n%s", name, now.UTC().Format(time.RFC3339Nano), reason, details)
	src := filepath.Join(o.dir, name)
	for i := 0; i < 100; i++ {
		dst := name
		if i > 0 {
			dst = fmt.Sprintf("%s.%s-%d", name, now.UTC().Format("20060102T150405Z"), i)
		}
		if _, err := os.Lstat(filepath.Join(o.qdir, dst)); err == nil {
			continue
		}
		reasonPath := filepath.Join(o.qdir, dst+reasonExt)
		existed, err := o.writeAtomic(reasonPath, []byte(text), false)
		if err != nil {
			o.log.Error("outbox: cannot quarantine", "file", name, "reason", reason, "err", err)
			return err
		}
		if existed {
			continue
		}
		// Pruning ranks entries by this time; set it from the outbox clock.
		_ = os.Chtimes(reasonPath, now, now)
		if err := os.Rename(src, filepath.Join(o.qdir, dst)); err != nil {
			_ = os.Remove(reasonPath)
			if isNotExist(err) {
				return fmt.Errorf("%w: %s", ErrGone, name)
			}
			o.log.Error("outbox: cannot quarantine", "file", name, "reason", reason, "err", err)
			return err
		}
		for _, d := range []string{o.qdir, o.dir} {
			if err := syncDir(d); err != nil {
				o.log.Warn("outbox: sync dir after quarantine", "dir", d, "err", err)
			}
		}
		o.log.Warn("outbox: quarantined", "file", name, "as", filepath.Join(quarantineDir, dst), "reason", reason)
		o.pruneQuarantine()
		return nil
	}
	return fmt.Errorf("outbox: quarantine %s: no free name", name)
}

// pruneQuarantine keeps the newest o.keep quarantined files (a file and its
// .reason count as one), ranked by the time of the reason file.
func (o *Outbox) pruneQuarantine() {
	if o.keep < 0 {
		return
	}
	des, err := os.ReadDir(o.qdir)
	if err != nil {
		o.log.Warn("outbox: read quarantine", "err", err)
		return
	}
	fileTime := map[string]time.Time{}
	reasonTime := map[string]time.Time{}
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if key, ok := strings.CutSuffix(de.Name(), reasonExt); ok {
			reasonTime[key] = fi.ModTime()
		} else {
			fileTime[de.Name()] = fi.ModTime()
		}
	}
	type entry struct {
		key string
		t   time.Time
	}
	var all []entry
	for key, t := range fileTime {
		if rt, ok := reasonTime[key]; ok {
			t = rt
		}
		all = append(all, entry{key, t})
	}
	for key, t := range reasonTime {
		if _, ok := fileTime[key]; !ok { // reason whose move failed or was pruned half-way
			all = append(all, entry{key, t})
		}
	}
	if len(all) <= o.keep {
		return
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].t.Equal(all[j].t) {
			return all[i].t.After(all[j].t)
		}
		return all[i].key > all[j].key
	})
	for _, e := range all[o.keep:] {
		// RemoveAll removes a quarantined symlink, never its target, and
		// also a directory that was found squatting a report name.
		if err := os.RemoveAll(filepath.Join(o.qdir, e.key)); err != nil {
			o.log.Warn("outbox: prune quarantine", "file", e.key, "err", err)
			continue
		}
		_ = os.Remove(filepath.Join(o.qdir, e.key+reasonExt))
	}
}

// QuarantineData stores data in quarantine/ as name, with the same
// <name>.reason file as a quarantined report, for evidence that is not a
// report (a damaged run file the collector cannot make a report of). name
// is a plain file name, which must not start with a dot or end in .reason;
// when it is taken, a timestamp suffix is added as for reports. It returns
// the name used. Like every quarantined file, it counts towards
// QuarantineKeep and is never sent.
func (o *Outbox) QuarantineData(name string, data []byte, reason, details string) (string, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") ||
		strings.HasSuffix(name, reasonExt) || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%w: quarantine name %q", ErrInvalid, name)
	}
	o.qMu.Lock()
	defer o.qMu.Unlock()
	if err := ensureDir(o.qdir); err != nil {
		return "", err
	}
	now := o.now()
	text := fmt.Sprintf("file: %s\ntime: %s\nreason: %s\n%s", name, now.UTC().Format(time.RFC3339Nano), reason, details)
	for i := 0; i < 100; i++ {
		dst := name
		if i > 0 {
			dst = fmt.Sprintf("%s.%s-%d", name, now.UTC().Format("20060102T150405Z"), i)
		}
		if _, err := os.Lstat(filepath.Join(o.qdir, dst)); err == nil {
			continue
		}
		reasonPath := filepath.Join(o.qdir, dst+reasonExt)
		existed, err := o.writeAtomic(reasonPath, []byte(text), false)
		if err != nil {
			return "", fmt.Errorf("outbox: quarantine %s: %w", name, err)
		}
		if existed {
			continue
		}
		_ = os.Chtimes(reasonPath, now, now)
		existed, err = o.writeAtomic(filepath.Join(o.qdir, dst), data, false)
		if err != nil || existed {
			// Never leave a reason without its file, nor claim another's.
			_ = os.Remove(reasonPath)
			if err != nil {
				return "", fmt.Errorf("outbox: quarantine %s: %w", name, err)
			}
			continue
		}
		o.log.Warn("outbox: quarantined", "file", name, "as", filepath.Join(quarantineDir, dst), "reason", reason)
		o.pruneQuarantine()
		return dst, nil
	}
	return "", fmt.Errorf("outbox: quarantine %s: no free name", name)
}
