//go:build unix

package flightrec

import "golang.org/x/sys/unix"

// Open flags for an existing recorder: never follow a link planted at its
// name, never block on a FIFO there.
const (
	noFollow = unix.O_NOFOLLOW
	nonBlock = unix.O_NONBLOCK
)
