//go:build linux

package monitor

import (
	"os"

	"golang.org/x/sys/unix"
)

// overlayfsMagic is OVERLAYFS_SUPER_MAGIC (linux/magic.h): the filesystem
// of a container's writable layer under Docker, containerd and podman.
const overlayfsMagic = 0x794c7630

// Limits says why a monitor cannot do its job here, each with the fix; empty
// when nothing is known to stand in its way. pid1 is true when the monitor
// would be killed with the program (PID 1 of a PID namespace: its death
// kills every process in the namespace), in which case starting one is
// pointless.
func Limits(dir string) (msgs []string, pid1 bool) {
	if os.Getpid() == 1 {
		pid1 = true
		msgs = append(msgs, "this program is PID 1 of its container, whose death kills every process in it, "+
			"the monitor included: run it under an init (docker run --init, tini) to get immediate delivery")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == overlayfsMagic {
		msgs = append(msgs, "the crashguard directory "+dir+" is on the container's writable layer, "+
			"which a restart discards: mount a volume that survives restarts and point CRASHGUARD_DIR at it")
	}
	return msgs, pid1
}
