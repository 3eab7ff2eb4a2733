//go:build !unix

package safedir

import "io/fs"

// checkPerms: Windows has no unix modes (os.Chmod only toggles read-only);
// the directories rely on the ACLs of the user's profile directory instead.
const checkPerms = false

// owner: ownership is an ACL question on Windows; not checked.
func owner(fs.FileInfo) (uid int, mine bool) { return -1, true }
