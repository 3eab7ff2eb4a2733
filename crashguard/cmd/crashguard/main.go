// Command crashguard delivers, lists and shows the crash reports kept in a
// crashguard directory, from outside the programs that made them: for
// what a monitor cannot do (a program that is PID 1 of its container, a
// systemd unit's ExecStopPost=, a Kubernetes sidecar sharing the volume, the
// end of a cron job).
//
//	crashguard deliver [-dir DIR] [-timeout 30s]   collect dead runs, send what is pending
//	crashguard list    [-dir DIR]                  one line per pending report
//	crashguard show    [-dir DIR] EVENT_ID         one report as JSON
//
// DIR defaults to CRASHGUARD_DIR. deliver sends to SENTRY_DSN. Exit status:
// 0 when all is done, 1 when reports stay pending (or on an error), 2 for
// bad usage.
//
// It can also be a program's monitor (crashguard.Options.MonitorExecutable):
// it imports crashguard, whose init takes over a process started as one.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crashguard/crashguard-go/crashguard"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(stderr io.Writer) int {
	fmt.Fprintln(stderr, "usage: crashguard deliver|list|show [-dir DIR] [-timeout D] [EVENT_ID]")
	return 2
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usage(stderr)
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", os.Getenv("CRASHGUARD_DIR"), "crashguard directory (runs/ and outbox/ inside)")
	timeout := fs.Duration("timeout", 30*time.Second, "bound of deliver")
	omit := fs.Bool("omit-crash-output", false, "deliver without the raw crash output attachment (Options.OmitCrashOutput)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "crashguard: no directory: give -dir or set CRASHGUARD_DIR")
		return 2
	}
	g, err := crashguard.Open(crashguard.Options{Dir: *dir, OmitCrashOutput: *omit})
	if err != nil {
		fmt.Fprintln(stderr, "crashguard:", err)
		return 1
	}
	switch cmd {
	case "deliver":
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		if err := g.Flush(ctx); err != nil {
			fmt.Fprintln(stderr, "crashguard:", err)
			return 1
		}
		fmt.Fprintln(stdout, "crashguard: nothing pending")
		return 0
	case "list", "show":
		reps, err := g.Pending()
		if err != nil {
			fmt.Fprintln(stderr, "crashguard:", err)
			return 1
		}
		if cmd == "list" {
			for _, r := range reps {
				fmt.Fprintf(stdout, "%s  %s  %s  %s: %s\n", r.EventID, r.CrashTime.UTC().Format(time.RFC3339), r.RunID, r.Kind, r.Message)
			}
			return 0
		}
		if fs.NArg() != 1 {
			return usage(stderr)
		}
		for _, r := range reps {
			if r.EventID == fs.Arg(0) {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					fmt.Fprintln(stderr, "crashguard:", err)
					return 1
				}
				return 0
			}
		}
		fmt.Fprintf(stderr, "crashguard: no pending report %s\n", fs.Arg(0))
		return 1
	}
	return usage(stderr)
}
