//go:build unix

package main

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Modes for the benchmarks (crashguard/bench_test.go,
// internal/collector/bench_test.go):
//
//	bigheap-panic  touches a 2 GiB heap, prints "gocrash: ready", then
//	               panics; run it with GOTRACEBACK=crash so that the kernel
//	               dumps core. BIGHEAP_CORE=1 raises RLIMIT_CORE to its hard
//	               limit first; GOCRASH_SUPPRESS=1 then switches the OS crash
//	               report off through the Guard, as a program would.
//	panic-10k      parks 10,000 goroutines on a channel and panics: with
//	               GOTRACEBACK=all, a crash output of 10,000 goroutines.
func init() {
	modes["bigheap-panic"] = bigheapPanic
	modes["panic-10k"] = panic10k
}

const (
	bigheapSize  = 2 << 30
	bigheapChunk = 64 << 20
)

// bigheap keeps the chunks live until the crash.
var bigheap [][]byte

func bigheapPanic() {
	if os.Getenv("BIGHEAP_CORE") == "1" {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "gocrash: getrlimit:", err)
			os.Exit(66)
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "gocrash: setrlimit:", err)
			os.Exit(66)
		}
	}
	// After the rlimit: suppression saves and zeroes it, as it would in a
	// program whose limit was raised by its service manager.
	if os.Getenv("GOCRASH_SUPPRESS") == "1" {
		if err := guard.SuppressOSCrashReports(true); err != nil {
			fmt.Fprintln(os.Stderr, "gocrash: suppress:", err)
			os.Exit(67)
		}
	}
	for n := 0; n < bigheapSize; n += bigheapChunk {
		b := make([]byte, bigheapChunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		bigheap = append(bigheap, b)
	}
	fmt.Println("gocrash: ready")
	panic(fmt.Sprintf("gocrash: deliberate panic with a %d MiB heap", bigheapSize>>20))
}

func panic10k() {
	const n = 10000
	block := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go parked(i%4, block, &started)
	}
	started.Wait()
	panic(fmt.Sprintf("gocrash: deliberate panic with %d goroutines", n))
}

// parked recurses depth times before it blocks, so that the stacks are not
// all the same length.
//
//go:noinline
func parked(depth int, block chan struct{}, started *sync.WaitGroup) {
	if depth > 0 {
		parked(depth-1, block, started)
		return
	}
	started.Done()
	<-block
}
