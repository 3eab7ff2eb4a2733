// Command scopecrash is a test program: it installs crashguard, sets a
// user, two tags, a context and three breadcrumbs through sentry-go's
// global hub, waits until its scope file shows them (polling, with a
// deadline), and then crashes as its argument says:
//
//	CRASHGUARD_DIR=/tmp/cg go run ./testprogs/scopecrash panic
//
// Modes: panic, concurrent-map, deadlock, and with cgo c-null-pthread (a
// NULL write in C on a thread Go never created). With SCOPECRASH_EXACT=1 the
// program sets crashguard.BeforeBreadcrumb in its sentry-go options and
// adds a fourth breadcrumb ("last words") right before the crash, which
// only the breadcrumb ring can have seen.
//
// Exit 66: the scope file never showed the data; 67: there was no scope
// file at all (Install does not start the snapshots).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/scopesnap"
)

var modes = map[string]func(){
	"panic":          func() { panic("scopecrash: checkout failed") },
	"concurrent-map": concurrentMap,
	"deadlock":       deadlock,
}

func main() {
	if len(os.Args) != 2 || modes[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: scopecrash <panic|concurrent-map|deadlock|c-null-pthread>")
		os.Exit(64)
	}
	g, err := crashguard.Install(crashguard.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scopecrash: install:", err)
	}
	fmt.Printf("scopecrash: installed run=%s\n", g.RunID())
	exact := os.Getenv("SCOPECRASH_EXACT") == "1"
	// A sentry-go client keeps a timer pending, which silences Go's
	// deadlock detector for good: the deadlock mode uses the global hub's
	// scope without one, as a program that only imports sentry-go would.
	addBreadcrumb := func(b *sentry.Breadcrumb) { sentry.CurrentHub().Scope().AddBreadcrumb(b, 100) }
	if os.Args[1] != "deadlock" {
		opts := sentry.ClientOptions{} // no DSN: sentry-go sends nothing
		if exact {
			opts.BeforeBreadcrumb = crashguard.BeforeBreadcrumb
		}
		if err := sentry.Init(opts); err != nil {
			fmt.Fprintln(os.Stderr, "scopecrash: sentry.Init:", err)
			os.Exit(65)
		}
		addBreadcrumb = func(b *sentry.Breadcrumb) { sentry.AddBreadcrumb(b) }
	}
	sentry.ConfigureScope(func(s *sentry.Scope) {
		s.SetUser(sentry.User{ID: "user-42", Email: "ada@example.com"})
		s.SetTag("region", "eu-west")
		s.SetTag("shard", "7")
		s.SetContext("order", sentry.Context{"id": 1234, "total": "99.90"})
	})
	for i := 1; i <= 3; i++ {
		addBreadcrumb(&sentry.Breadcrumb{Category: "checkout", Message: fmt.Sprintf("step %d", i), Level: sentry.LevelInfo})
	}
	wait(filepath.Join(g.Dir(), "runs", g.RunID()+"."+runfile.ScopeName))
	if exact {
		addBreadcrumb(&sentry.Breadcrumb{Category: "checkout", Message: "last words", Level: sentry.LevelError})
	}
	fmt.Println("scopecrash: crashing")
	modes[os.Args[1]]()
}

// wait polls the scope file until a snapshot holds the scope set above.
func wait(path string) {
	start := time.Now()
	for {
		sc, _, _ := scopesnap.Read(path)
		if complete(sc) {
			fmt.Printf("scopecrash: snapshot %d after %s\n", sc.Seq, time.Since(start).Round(time.Millisecond))
			return
		}
		if _, err := os.Stat(path); err != nil && time.Since(start) > 5*time.Second {
			fmt.Fprintln(os.Stderr, "scopecrash: no scope file:", err)
			os.Exit(67)
		}
		if time.Since(start) > 30*time.Second {
			fmt.Fprintf(os.Stderr, "scopecrash: the scope file never showed the scope: %+v\n", sc)
			os.Exit(66)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func complete(sc *report.Scope) bool {
	return sc != nil && sc.User != nil && sc.Tags["region"] == "eu-west" && sc.Tags["shard"] == "7" &&
		sc.Contexts["order"] != nil && len(sc.Breadcrumbs) >= 3
}

func concurrentMap() {
	m := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				m[i%64] = i
			}
		}()
	}
	wg.Wait()
}

func deadlock() {
	ch := make(chan int)
	<-ch
}
