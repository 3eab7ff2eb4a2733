//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/crashguard/crashguard-go/internal/scopesnap"
)

type account struct{ balance int }

//go:noinline
func panicMain() {
	panic(errors.New("gocrash: deliberate panic in main"))
}

//go:noinline
func panicGoroutine() {
	done := make(chan struct{})
	go func() {
		// Not deferred: a deferred close runs while the goroutine panics,
		// before the runtime prints and exits, and main could then return
		// first and end the process with status 0.
		worker(3)
		close(done)
	}()
	<-done
}

//go:noinline
func worker(n int) {
	items := make([]int, n)
	i := n + 2
	fmt.Println(items[i]) // index out of range: a runtime.Error panic
}

//go:noinline
func nilDeref() {
	var a *account
	a.balance++ // Go turns the fault into a nil-pointer panic
}

//go:noinline
func faultAddr() {
	// Far above the zero page, so the runtime throws "unexpected fault
	// address" instead of panicking.
	p := (*int)(unsafe.Add(unsafe.Pointer(nil), 0xdead0000))
	*p = 1
}

//go:noinline
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

//go:noinline
func deadlock() {
	ch := make(chan int)
	<-ch
}

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[3])
}

func stackOverflow() {
	// A 64 MiB limit instead of the default 1 GiB: same fatal error, a
	// fraction of the time and memory in tests.
	debug.SetMaxStack(64 << 20)
	fmt.Println(recurse(0))
}

//go:noinline
func outOfMemory() {
	// An allocation that fails kills the process in whichever goroutine
	// made it. Let crashguard's start-up work in the background (the scope
	// snapshotter's file and header) finish first, so that this test's
	// crash is charged to this function, as the tests expect; in a real
	// program it can be any goroutine's (README known limits).
	for deadline := time.Now().Add(5 * time.Second); !scopesnap.Running() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	// A small address-space limit makes the allocator fail for real, as it
	// does in a memory-limited container.
	lim := &syscall.Rlimit{Cur: 1 << 30, Max: 1 << 30}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
		fmt.Fprintln(os.Stderr, "gocrash: setrlimit:", err)
		os.Exit(66)
	}
	var keep [][]byte
	for {
		b := make([]byte, 64<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
}

// recovered dereferences nil a thousand times and recovers each panic, then
// returns: a run that must leave no report.
func recovered() {
	for i := 0; i < 1000; i++ {
		func() {
			defer func() { _ = recover() }()
			nilDeref()
		}()
	}
}

func sigkill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
