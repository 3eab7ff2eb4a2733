package outbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// writeAtomic writes data to final so that no reader ever sees a partial
// file, even across a power cut: temp file in the outbox dir, write, fsync,
// then into place, then fsync the directory that now names it.
//
// With replace false an existing final is left alone and existed is true.
// The no-replace publish is a hard link, which fails atomically if the name
// exists, so two processes putting the same report cannot overwrite each
// other (rename would silently replace).
func (o *Outbox) writeAtomic(final string, data []byte, replace bool) (existed bool, err error) {
	tf, err := os.CreateTemp(o.dir, tempPrefix+"*") // O_EXCL, 0600: never follows a planted name
	if err != nil {
		return false, err
	}
	tmp := tf.Name()
	defer func() {
		// After a link the temp name is a second name of the final file;
		// after a rename it is gone. Either way it must not stay.
		if rerr := os.Remove(tmp); rerr != nil && !isNotExist(rerr) {
			o.log.Warn("outbox: remove temp file", "file", filepath.Base(tmp), "err", rerr)
		}
	}()
	// CreateTemp's 0600 is reduced by the umask; an odd umask must not
	// leave a report unreadable to ourselves, nor wider than 0600.
	if checkPerms {
		if err := tf.Chmod(0o600); err != nil {
			tf.Close()
			return false, err
		}
	}
	if _, err := tf.Write(data); err != nil {
		tf.Close()
		return false, err
	}
	if err := tf.Sync(); err != nil {
		tf.Close()
		return false, err
	}
	if err := tf.Close(); err != nil {
		return false, err
	}
	if replace {
		err = os.Rename(tmp, final)
	} else {
		existed, err = publishNoReplace(tmp, final)
	}
	if err != nil || existed {
		return existed, err
	}
	return false, syncDir(filepath.Dir(final))
}

// publishNoReplace gives tmp the name final unless final exists.
func publishNoReplace(tmp, final string) (existed bool, err error) {
	err = os.Link(tmp, final)
	if err == nil {
		return false, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return true, nil
	}
	// Filesystems without hard links (FAT, some network and FUSE mounts):
	// check, then rename. Two writers of the same event id may both pass the
	// check; the loser then replaces an identical-id report, which Sentry
	// deduplicates by event id, so the cost is at most one duplicate upload.
	if _, lerr := os.Lstat(final); lerr == nil {
		return true, nil
	}
	return false, os.Rename(tmp, final)
}

// readCapped reads all of r, failing with ErrTooLarge past limit bytes; the
// file may have grown since it was stat'ed, so the cap is enforced on the
// bytes actually read.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// readSmall reads a small sidecar file (state, rate limits) without following
// links. A missing file gives an error matching fs.ErrNotExist.
func readSmall(path string) ([]byte, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), notRegular(fi.Mode()))
	}
	return readCapped(f, maxSmallFile)
}

// notRegular is the error for a file of mode m where a regular file was
// expected.
func notRegular(m fs.FileMode) error { return fmt.Errorf("%w (mode %v)", errNotRegular, m) }

// isNotExist reports whether err says a file does not exist.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// isBroken reports whether err says a file's content or kind is unusable
// (as opposed to an I/O error that may pass), so the file belongs in
// quarantine.
func isBroken(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) || errors.Is(err, errNotRegular)
}
