//go:build unix

package main

import (
	"context"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// The labels-* modes crash under runtime/pprof labels, for the tests of
// goroutine labels in reports (crashguard/labels_test.go and the parser's
// testdata/labels). Go prints labels in goroutine headers only with
// GODEBUG=tracebacklabels=1 (Go 1.26; the default for modules declaring go
// 1.27 or later): the tests set it. GOTRACEBACK=all (GOCRASH_TRACEBACK=all)
// prints the other labelled goroutines too.
//
//   - labels-goroutine: a goroutine started inside pprof.Do panics. It
//     inherited the labels, and nothing restores them before the runtime
//     prints, so its header carries them.
//   - labels-map: concurrent map writes inside pprof.Do: a fatal error runs
//     no deferred call, so the labels pprof.Do set are still there.
//   - labels-panic: a panic right inside pprof.Do's function. The panic
//     runs pprof.Do's deferred SetGoroutineLabels before the runtime prints,
//     so the header shows the labels from before pprof.Do: none here.
func init() {
	modes["labels-goroutine"] = labelsGoroutine
	modes["labels-map"] = labelsMap
	modes["labels-panic"] = labelsPanic
}

// requestLabels are the crashing goroutine's labels; user holds every kind
// of character the runtime escapes.
var requestLabels = pprof.Labels("request_id", "r-17", "user", "u\"q\\ \n\t\x01 ä 😀")

// parkLabelled starts goroutines that wait forever under labels of their
// own, so a GOTRACEBACK=all crash shows labels on threads other than the
// crashed one, and waits until they are parked.
func parkLabelled() {
	var wg sync.WaitGroup
	for _, id := range []string{"w-1", "w-2"} {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("worker", id), func(context.Context) {
			wg.Done()
			select {}
		})
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
}

//go:noinline
func labelsGoroutine() {
	parkLabelled()
	pprof.Do(context.Background(), requestLabels, func(context.Context) {
		go func() {
			labelledWork(os.Args)
		}()
		select {}
	})
}

//go:noinline
func labelledWork(args []string) {
	panic("gocrash: panic under labels, " + args[1])
}

//go:noinline
func labelsMap() {
	parkLabelled()
	pprof.Do(context.Background(), requestLabels, func(context.Context) {
		concurrentMap()
	})
}

//go:noinline
func labelsPanic() {
	parkLabelled()
	pprof.Do(context.Background(), requestLabels, func(context.Context) {
		labelledWork(os.Args)
	})
}
