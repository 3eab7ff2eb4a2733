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

// pruneQuarantine keeps the newest quarantined files (a file and its
// .reason count as one), ranked by the time of the reason file: at most
// o.keep of them, at most o.qMaxBytes in all (the newest is always kept),
// none older than o.maxAge. Each removal is logged; it returns how many
// were removed. o.qMu must be held.
func (o *Outbox) pruneQuarantine() int {
	des, err := os.ReadDir(o.qdir)
	if err != nil {
		o.log.Warn("outbox: read quarantine", "err", err)
		return 0
	}
	type entry struct {
		key  string
		t    time.Time
		size int64
	}
	byKey := map[string]*entry{}
	get := func(key string) *entry {
		if byKey[key] == nil {
			byKey[key] = &entry{key: key}
		}
		return byKey[key]
	}
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if key, ok := strings.CutSuffix(de.Name(), reasonExt); ok {
			e := get(key)
			e.t = fi.ModTime() // the reason's time ranks the entry
			e.size += fi.Size()
		} else {
			e := get(de.Name())
			if e.t.IsZero() {
				e.t = fi.ModTime()
			}
			e.size += fi.Size()
		}
	}
	all := make([]*entry, 0, len(byKey))
	for _, e := range byKey {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].t.Equal(all[j].t) {
			return all[i].t.After(all[j].t)
		}
		return all[i].key > all[j].key
	})
	now := o.now()
	var total int64
	removed := 0
	for i, e := range all {
		total += e.size
		var why string
		switch {
		case i == 0:
			continue // the newest stays
		case o.keep >= 0 && i >= o.keep:
			why = fmt.Sprintf("more than %d quarantined files", o.keep)
		case o.qMaxBytes > 0 && total > o.qMaxBytes:
			why = fmt.Sprintf("more than %d bytes in quarantine", o.qMaxBytes)
		case o.maxAge > 0 && now.Sub(e.t) > o.maxAge:
			why = fmt.Sprintf("older than %s", o.maxAge)
		default:
			continue
		}
		// RemoveAll removes a quarantined symlink, never its target, and
		// also a directory that was found squatting a report name.
		if err := os.RemoveAll(filepath.Join(o.qdir, e.key)); err != nil {
			o.log.Warn("outbox: prune quarantine", "file", e.key, "err", err)
			continue
		}
		_ = os.Remove(filepath.Join(o.qdir, e.key+reasonExt))
		total -= e.size
		removed++
		o.log.Info("outbox: quarantined file removed", "file", e.key, "why", why, "bytes", e.size)
	}
	return removed
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
