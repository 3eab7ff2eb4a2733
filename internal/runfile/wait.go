package runfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WaitDead blocks until the process that owns run id has ended, however it
// ended: it waits for the run file's lock, which the kernel drops with the
// owner's last descriptor of it (exit, crash, SIGKILL alike). It then lets
// the lock go at once, so the run is collected the ordinary way (Claim).
//
// It waits without a bound, as the monitor must: a live program may run for
// months, and a blocked flock costs nothing. A run file that is gone means
// another collector already took the run: that is not an error.
func WaitDead(runs, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("runfile: wait: invalid run id %q", id)
	}
	f, err := os.OpenFile(filepath.Join(runs, id+RunExt), os.O_RDONLY|noFollow|nonBlock, 0)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runfile: wait: %w", err)
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return fmt.Errorf("runfile: wait for run %s: %w", id, err)
	}
	return nil // Close drops our lock
}
