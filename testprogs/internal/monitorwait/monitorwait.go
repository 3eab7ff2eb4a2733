// Package monitorwait lets a test program wait until crashguard's monitor
// of its run is running, so that the tests' crashes right after Install are
// the case the monitor is for, not the first milliseconds in which Install
// is still starting it in the background (a crash then is delivered by the
// next start; README). Linux only: it looks for the monitor's argv in /proc.
package monitorwait

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Wait waits up to 10 s for the monitor of run id, prints "<prog>: monitor
// up" when it runs, and exits with status 67 when it never does.
func Wait(prog, id string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			// Under QEMU through binfmt_misc the argv shown starts with
			// the interpreter: the monitor's argv[0] is a later argument.
			want := "crashguard-monitor run=" + id + " "
			if b, err := os.ReadFile(p); err == nil && (strings.HasPrefix(string(b), want) || strings.Contains(string(b), "\x00"+want)) {
				fmt.Printf("%s: monitor up\n", prog)
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "%s: no monitor after 10s\n", prog)
	os.Exit(67)
}
