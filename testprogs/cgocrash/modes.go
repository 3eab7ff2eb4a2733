//go:build cgo && (linux || darwin)

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"
)

// mode is one way to crash (or not). The modes are independent of how
// crashguard is installed (main.go), so they can be reused with the public
// crashguard.Install.
type mode struct {
	// fatal is true when the mode ends the process by a crash.
	fatal bool
	doc   string
	run   func(cfg *config) error
}

// config is what a mode may need from the command line.
type config struct {
	tmp string // a private temporary directory
}

var modes = map[string]mode{
	"c-null-gothread":  {true, "NULL write in C called through cgo (a Go thread)", func(*config) error { cNullWrite(); return nil }},
	"c-null-nofp":      {true, "NULL write in C without frame records (CFI only), through cgo", func(*config) error { cNoFPWrite(); return nil }},
	"c-null-nofp-leaf": {true, "NULL write in a C leaf (return address only in lr on arm64), no frame records, through cgo", func(*config) error { cNoFPLeafWrite(); return nil }},
	"c-abort-gothread": {true, "abort() in C called through cgo", func(*config) error { cAbort(); return nil }},
	"c-fpe-gothread":   {true, "integer divide by zero in C (SIGFPE on amd64; no trap on arm64)", func(*config) error { cFPE(); return nil }},
	"c-trap-gothread":  {true, "__builtin_trap in C (SIGILL on amd64, SIGTRAP on arm64)", func(*config) error { cTrap(); return nil }},
	"c-bus-gothread":   {true, "touch a MAP_SHARED page past the end of a file in C (SIGBUS)", busMode},
	"c-null-pthread":   {true, "NULL write on a pthread created in C", func(*config) error { cPthreadFault(); return nil }},
	"c-overflow-pthread": {true, "unbounded recursion in C on a pthread created in C (no report: README known limits)",
		func(*config) error { cPthreadOverflow(); return nil }},
	"c-abort-pthread":  {true, "abort() on a pthread created in C", func(*config) error { cPthreadAbort(); return nil }},
	"c-32threads":      {true, "32 C pthreads fault at the same moment", func(*config) error { cThreadsFault(32); return nil }},
	"go-nil-panic":     {true, "unrecovered nil dereference in Go", goNilPanic},
	"go-nil-recovered": {false, "10,000 recovered nil dereferences in Go, then exit 0", goNilRecovered},
	"go-panic-on-fault": {false, "debug.SetPanicOnFault: a fault at a non-nil address in Go is recovered",
		goPanicOnFault},
	"notify-abrt": {false, "signal.Notify(SIGABRT) gets a SIGABRT sent to the process", notifyAbrt},
	"pprof":       {false, "a CPU profile still gets SIGPROF samples", cpuProfile},
	"exit0":       {false, "return from main", func(*config) error { return nil }},
	"fork-child-fault": {false, "fork() in C; the child faults; the parent waits for it and exits 0",
		forkChildFault},
}

// sink keeps loads the compiler would otherwise drop.
var sink byte

func forkChildFault(*config) error {
	st := cForkChildFault()
	if st == -1 {
		return fmt.Errorf("fork failed")
	}
	ws := syscall.WaitStatus(st)
	fmt.Fprintf(os.Stderr, "cgocrash: child exited=%v status=%d signaled=%v signal=%v\n",
		ws.Exited(), ws.ExitStatus(), ws.Signaled(), ws.Signal())
	return nil
}

func busMode(cfg *config) error { return cBus(filepath.Join(cfg.tmp, "bus.bin")) }

type node struct{ next *node }

//go:noinline
func deref(n *node) *node { return n.next }

func goNilPanic(*config) error {
	deref(nil)
	return nil
}

// tryDeref dereferences nil and recovers; it returns whether it panicked.
func tryDeref() (panicked bool) {
	defer func() { panicked = recover() != nil }()
	deref(nil)
	return false
}

func goNilRecovered(*config) error {
	const n = 10000
	start := time.Now()
	for i := 0; i < n; i++ {
		if !tryDeref() {
			return fmt.Errorf("iteration %d did not panic", i)
		}
	}
	fmt.Fprintf(os.Stderr, "cgocrash: recovered nil panic %.0f ns/op\n", float64(time.Since(start).Nanoseconds())/n)
	return nil
}

func goPanicOnFault(*config) error {
	mem, err := syscall.Mmap(-1, 0, os.Getpagesize(), syscall.PROT_NONE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return err
	}
	debug.SetPanicOnFault(true)
	recovered := func() (r any) {
		defer func() { r = recover() }()
		sink = mem[8]
		return nil
	}()
	if recovered == nil {
		return fmt.Errorf("no panic from a PROT_NONE read")
	}
	fmt.Fprintf(os.Stderr, "cgocrash: recovered %v\n", recovered)
	return nil
}

func notifyAbrt(*config) error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGABRT)
	if err := syscall.Kill(os.Getpid(), syscall.SIGABRT); err != nil {
		return err
	}
	select {
	case s := <-c:
		fmt.Fprintf(os.Stderr, "cgocrash: got %v\n", s)
		return nil
	case <-time.After(20 * time.Second):
		return fmt.Errorf("SIGABRT never reached signal.Notify")
	}
}

//go:noinline
func spinForProfile(d time.Duration) int {
	x := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 1000; i++ {
			x += i * i
		}
	}
	return x
}

func cpuProfile(*config) error {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return err
	}
	spinForProfile(400 * time.Millisecond)
	pprof.StopCPUProfile()
	// The profile is gzipped protobuf: a sampled function's name appears in
	// its string table only when a SIGPROF sample landed in it.
	if !containsGzipped(buf.Bytes(), "main.spinForProfile") {
		return fmt.Errorf("no CPU profile samples in spinForProfile (%d bytes)", buf.Len())
	}
	runtime.KeepAlive(buf)
	return nil
}
