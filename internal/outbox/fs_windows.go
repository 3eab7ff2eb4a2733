//go:build windows

package outbox

import (
	"io/fs"
	"os"
)

// checkPerms: Windows has no unix modes (os.Chmod only toggles read-only);
// the outbox relies on the ACLs of the user's profile directory instead.
const checkPerms = false

// openNoFollow refuses a reparse point (symlink, junction) at path. Windows
// has no O_NOFOLLOW, so this is a check-then-open with a small race: best
// effort, and the outbox lives in the user's own profile directory.
func openNoFollow(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi.Mode())
	}
	return os.Open(path)
}

// linkCount is not available from a Windows FileInfo. A file open without
// FILE_SHARE_DELETE (Go's default) cannot be deleted, so it is always 1.
func linkCount(fs.FileInfo) uint64 { return 1 }

// syncDir: Windows cannot fsync a directory handle; NTFS journals renames.
func syncDir(string) error { return nil }
