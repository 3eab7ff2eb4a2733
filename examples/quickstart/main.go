// Command quickstart shows crashguard's main job in one run: a program
// crashes, and the crash arrives at Sentry as one fatal event.
//
//	go run ./examples/quickstart
//
// With SENTRY_DSN set it sends to that project. Without, it starts an
// embedded Sentry-compatible receiver on 127.0.0.1 and prints what that
// receiver got: the exception, the top in-app frames, and whether the event
// validates against Sentry's event schema.
//
// How it works: the program runs itself again as a child that installs
// crashguard and then crashes in a goroutine. Then, like the next start of a
// real program would, the parent installs crashguard over the same directory,
// finds the dead run, and flushes its report.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

const childEnv = "QUICKSTART_CHILD"

func main() {
	if os.Getenv(childEnv) == "1" {
		child()
		return
	}
	if err := parent(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func parent() error {
	dsn := os.Getenv("SENTRY_DSN")
	var recv *sentrytest.Server
	if dsn == "" {
		recv = sentrytest.New()
		defer recv.Close()
		dsn = recv.DSN()
		fmt.Printf("no SENTRY_DSN set: using an embedded Sentry receiver at %s\n", recv.URL())
	}
	dir, err := os.MkdirTemp("", "crashguard-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. A program that installed crashguard crashes.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=1", "CRASHGUARD_DIR="+dir, "SENTRY_DSN="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	fmt.Printf("\n1. the child crashed: %v; the first lines it printed:\n", err)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	for _, l := range lines[:min(3, len(lines))] {
		fmt.Printf("   | %s\n", l)
	}

	// 2. The next start installs crashguard over the same directory, which
	// collects the dead run and sends its report.
	g, err := crashguard.Install(crashguard.Options{Dir: dir, Sentry: sentry.ClientOptions{Dsn: dsn}})
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	pending, err := g.Pending()
	if err != nil {
		return err
	}
	fmt.Printf("\n2. the next start found %d crash report(s) on disk:\n", len(pending))
	for _, p := range pending {
		fmt.Printf("   event %s  %s: %s\n", p.EventID, p.Kind, p.Message)
	}
	if err := g.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if recv == nil {
		fmt.Printf("\n3. delivered to %s: look for the event ids above in your Sentry project.\n", redact(dsn))
		return nil
	}
	events, err := recv.WaitEvents(ctx, len(pending))
	if err != nil {
		return err
	}
	fmt.Printf("\n3. what Sentry received:\n")
	for _, e := range events {
		printEvent(e)
	}
	return nil
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "//"); j >= 0 && j < i {
			return dsn[:j+2] + "***" + dsn[i:]
		}
	}
	return dsn
}

// child is the program that crashes: a worker goroutine indexes past the end
// of a slice.
func child() {
	if _, err := crashguard.Install(crashguard.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "child: install:", err)
	}
	orders := []string{"apple", "pear"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		processOrders(orders, 3)
	}()
	<-done
}

//go:noinline
func processOrders(orders []string, n int) {
	for i := 0; i < n; i++ {
		fmt.Fprintln(os.Stdout, "processing", orders[i])
	}
}
