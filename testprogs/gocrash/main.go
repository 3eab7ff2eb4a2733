//go:build unix

// Command gocrash installs crashguard and then dies (or does not) in the way
// its argument names. The tests in crashguard/ run it as a child, then read
// the report a later process collects. It is also handy by hand:
//
//	CRASHGUARD_DIR=/tmp/cg go run ./testprogs/gocrash nil-deref
//
// Modes that crash: panic-main, panic-goroutine, nil-deref, fault-addr,
// concurrent-map, deadlock, stack-overflow, oom, nested-panic. GOTRACEBACK=crash is a
// variant of any of them set in the environment. Modes that end without a
// crash: recovered, exit3, return, sigkill; and flush, which delivers what
// earlier runs left.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/crashguard/crashguard-go/crashguard"
	"github.com/crashguard/crashguard-go/testprogs/internal/corelimit"
	"github.com/crashguard/crashguard-go/testprogs/internal/monitorwait"
)

var modes = map[string]func(){
	"panic-main":      panicMain,
	"panic-goroutine": panicGoroutine,
	"nil-deref":       nilDeref,
	"fault-addr":      faultAddr,
	"concurrent-map":  concurrentMap,
	"deadlock":        deadlock,
	"stack-overflow":  stackOverflow,
	"oom":             outOfMemory,
	"nested-panic":    nestedPanic,
	"recovered":       recovered,
	"exit3":           func() { os.Exit(3) },
	"return":          func() {},
	"sigkill":         sigkill,
	"panic-on-sigint": panicOnSigint,
	"flush":           flush,
}

// guard is the installed Guard, for the flush mode.
var guard *crashguard.Guard

// flush is the next start of a program: it collects what earlier runs left
// and delivers it before exiting.
func flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := guard.Flush(ctx)
	fmt.Printf("gocrash: flush: %v\n", err)
}

func main() {
	if len(os.Args) != 2 || modes[os.Args[1]] == nil {
		names := make([]string, 0, len(modes))
		for n := range modes {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: gocrash <%s>\n", strings.Join(names, "|"))
		os.Exit(64)
	}
	corelimit.RaiseFromEnv()
	var err error
	monitorTimeout, _ := time.ParseDuration(os.Getenv("GOCRASH_MONITOR_TIMEOUT"))
	guard, err = crashguard.Install(crashguard.Options{
		Traceback:              os.Getenv("GOCRASH_TRACEBACK"),
		SuppressOSCrashReports: os.Getenv("GOCRASH_SUPPRESS") == "1",
		Monitor:                os.Getenv("GOCRASH_MONITOR") == "1",
		MonitorTimeout:         monitorTimeout,
		OmitCrashOutput:        os.Getenv("GOCRASH_OMIT_OUTPUT") == "1",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gocrash: install:", err)
		if guard == nil {
			os.Exit(65)
		}
	}
	// The tests wait for this line before they expect anything of the run.
	fmt.Printf("gocrash: installed run=%s layers=%s\n", guard.RunID(), guard.Layers())
	if os.Getenv("GOCRASH_MONITOR") == "1" {
		monitorwait.Wait("gocrash", guard.RunID())
	}
	modes[os.Args[1]]()
}
