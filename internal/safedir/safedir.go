// Package safedir checks the directories crashguard keeps its files in
// before it trusts them.
//
// crashguard reads, renames and removes files by name in its directories,
// and what it reads there becomes a crash report. So a directory is used only
// when nobody but this process's user can have put or swapped anything in it:
// it is a real directory (never a symbolic link, which could point at any
// folder of the user's), owned by the process's effective user, and not
// writable by group or others. The checks use Lstat and never follow a link
// at the last component.
//
// Every refusal wraps ErrUnsafe and one of the specific sentinels below, so
// callers match it with errors.Is; its text names the directory and the fix.
package safedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Errors returned by Check, Ensure and CheckBase. Each refusal matches
// ErrUnsafe and exactly one of the others.
var (
	// ErrUnsafe is matched by every refusal.
	ErrUnsafe = errors.New("unsafe directory")
	// ErrSymlink means the path is a symbolic link.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotDir means the path is something other than a directory.
	ErrNotDir = errors.New("is not a directory")
	// ErrNotOwner means the directory belongs to another user.
	ErrNotOwner = errors.New("is owned by another user")
	// ErrWritable means group or others may create, rename or remove
	// names in the directory.
	ErrWritable = errors.New("is writable by group or others")
)

// privateMode is the mode Ensure creates and narrows private directories to.
const privateMode = 0o700

// Check verifies that path is a private directory: a directory and not a
// symbolic link, owned by this process's effective user (unix), and not
// writable by group or others. It changes nothing. An error from Lstat
// itself (a missing path gives one matching fs.ErrNotExist) is returned
// wrapped, without ErrUnsafe.
func Check(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("safedir: %w", err)
	}
	return checkInfo(path, fi, false)
}

// Ensure makes path a private directory: it creates it with mode 0700 (and
// missing parents likewise) when it does not exist, refuses it as Check does
// when it is not safe, and narrows a safe directory that others may read
// (0755, say) to 0700, since what crashguard keeps holds arguments, paths
// and host names. A directory that was writable by group or others is
// refused, not narrowed: files may already have been planted in it.
func Ensure(path string) error {
	if err := os.MkdirAll(path, privateMode); err != nil {
		// MkdirAll follows a symlink to a directory and fails on a symlink
		// to nothing; either way Lstat below says what is really there.
		if _, lerr := os.Lstat(path); lerr != nil {
			return fmt.Errorf("safedir: create %s: %w", path, err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("safedir: %w", err)
	}
	if err := checkInfo(path, fi, false); err != nil {
		return err
	}
	// MkdirAll is subject to the umask and leaves an existing directory as
	// it is; set the mode exactly.
	if checkPerms && fi.Mode().Perm() != privateMode {
		if err := os.Chmod(path, privateMode); err != nil {
			return fmt.Errorf("safedir: chmod %s: %w", path, err)
		}
	}
	return nil
}

// CheckBase verifies a directory that holds crashguard's private
// directories without being private itself (Options.Dir): not a symbolic
// link, a directory, owned by this process's effective user, and not
// writable by others unless its sticky bit is set. With the sticky bit
// (as on /tmp) others can add names but cannot remove or rename the ones
// this user made, and the private directories inside are checked on their
// own. It changes nothing.
func CheckBase(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("safedir: %w", err)
	}
	return checkInfo(path, fi, true)
}

func checkInfo(path string, fi fs.FileInfo, base bool) error {
	const elsewhere = "set Options.Dir (CRASHGUARD_DIR) to a directory of this user"
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return refuse(path, ErrSymlink, fmt.Sprintf(" (to %q), and crashguard does not follow links here", target),
			"replace the link with a real directory, or "+elsewhere)
	case !m.IsDir():
		return refuse(path, ErrNotDir, fmt.Sprintf(" (mode %v)", m), "remove or rename it, or "+elsewhere)
	}
	if uid, mine := owner(fi); !mine {
		return refuse(path, ErrNotOwner, fmt.Sprintf(" (uid %d; this process runs as uid %d)", uid, os.Geteuid()),
			"remove it, chown it to this user, or "+elsewhere)
	}
	if !checkPerms {
		return nil
	}
	writable := m.Perm()&0o022 != 0
	fix := "chmod go-w " + path
	if base {
		// A group-writable base is the user's own choice (a shared group
		// directory); others without the sticky bit could replace runs/ or
		// outbox/ with their own.
		writable = m.Perm()&0o002 != 0 && m&fs.ModeSticky == 0
		fix = "chmod o-w " + path + " (or chmod +t " + path + ")"
	}
	if writable {
		return refuse(path, ErrWritable, fmt.Sprintf(" (mode %v), so others could plant or swap files in it", m),
			"check its contents and run "+fix+", or "+elsewhere)
	}
	return nil
}

// refuse builds the error for an unsafe path: what is wrong, then the fix.
func refuse(path string, kind error, detail, fix string) error {
	return fmt.Errorf("%w: %s %w%s: %s", ErrUnsafe, path, kind, detail, fix)
}
