// Command crashgen crashes on purpose, in one of the ways a Go program can
// die, after pointing runtime/debug.SetCrashOutput at a file. The file then
// holds exactly the copy of the crash output that crashguard parses; the
// runtime's stderr is left alone so the two can be compared.
//
//	crashgen -out FILE MODE
//
// Run regen.sh rather than this directly: it builds crashgen with each Go
// release and runs every mode under the GOTRACEBACK settings we care about.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"example.com/crashgen/dotted.v2"
)

var modes = map[string]func(){
	"panic_main":           panicMain,
	"panic_goroutine":      panicGoroutine,
	"panic_error":          panicError,
	"panic_custom":         panicCustom,
	"panic_stringer":       panicStringer,
	"panic_int":            panicInt,
	"panic_multiline":      panicMultiline,
	"panic_repanic":        panicRepanic,
	"panic_recover_new":    panicRecoverNew,
	"panic_nested":         panicNested,
	"panic_goexit":         panicGoexit,
	"panic_dotted":         panicDotted,
	"panic_generic":        panicGeneric,
	"panic_elided":         panicElided,
	"panic_labels":         panicLabels,
	"panic_ancestors":      panicAncestors,
	"panic_states":         panicStates,
	"panic_many":           panicMany,
	"panic_busy":           panicBusy,
	"goexit_deadlock":      goexitDeadlock,
	"nil_deref":            nilDeref,
	"index":                indexOutOfRange,
	"divide":               divideByZero,
	"fault_addr":           faultAddr,
	"panic_on_fault":       panicOnFault,
	"map_writes":           mapWrites,
	"map_read_write":       mapReadWrite,
	"map_iter_write":       mapIterWrite,
	"deadlock":             deadlock,
	"stack_overflow":       stackOverflow,
	"oom":                  outOfMemory,
	"mutex_unlock":         mutexUnlock,
	"rwmutex_runlock":      rwmutexRUnlock,
	"go_nil_func":          goNilFunc,
	"sigquit":              sigquit,
	"cgo_segv":             cgoSegv,
	"cgo_abort":            cgoAbort,
	"throw_in_panic_print": throwInPanicPrint,
}

func main() {
	out := flag.String("out", "", "file for debug.SetCrashOutput")
	list := flag.Bool("list", false, "list the modes and exit")
	flag.Parse()
	if *list {
		var names []string
		for name := range modes {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	if flag.NArg() != 1 || modes[flag.Arg(0)] == nil || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: crashgen -out FILE MODE   (crashgen -list for modes)")
		os.Exit(64)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close() // SetCrashOutput holds its own dup.
	modes[flag.Arg(0)]()
	fmt.Fprintln(os.Stderr, "crashgen: mode did not crash:", flag.Arg(0))
	os.Exit(3)
}

// thing gives the panicking frames a method receiver.
type thing struct{ n int }

func (t *thing) explode(why string) { panic(why) }

func panicMain() {
	t := &thing{n: 1}
	t.explode("boom")
}

func panicGoroutine() {
	block := make(chan struct{})
	go worker(block)
	<-block
}

// worker never closes block: main must still be waiting when the panic
// kills the process, not racing it to print.
func worker(block chan struct{}) {
	var t thing
	t.explode("worker failed")
}

func panicError() {
	panic(fmt.Errorf("load config: %w", os.ErrNotExist))
}

// MyErr has no methods: the runtime prints it as "(main.MyErr) 0x...".
type MyErr struct {
	Code int
	Text string
}

func panicCustom() { panic(MyErr{Code: 7, Text: "seven"}) }

type stringer struct{ v int }

func (s stringer) String() string { return "stringer value " + strconv.Itoa(s.v) }

func panicStringer() { panic(stringer{v: 9}) }

// Code is a named integer type: printed as "main.Code(42)".
type Code int

func panicInt() { panic(Code(42)) }

func panicMultiline() {
	panic("first line\nsecond line\n\nfourth line after a blank")
}

func panicRepanic() {
	defer func() {
		r := recover()
		panic(r)
	}()
	panic("boom")
}

func panicRecoverNew() {
	defer func() {
		r := recover()
		panic(fmt.Sprintf("second (after %v)", r))
	}()
	panic("first")
}

func panicNested() {
	defer func() {
		panic(errors.New("panic in defer"))
	}()
	panic("first")
}

func panicGoexit() {
	go func() {
		defer func() { panic("panic during Goexit") }()
		runtime.Goexit()
	}()
	select {}
}

func panicDotted() {
	b := &dotted.Box{Name: "lid"}
	b.Open()
}

// Stack is generic so the tracebacks show "main.(*Stack[...]).Pop".
type Stack[T any] struct{ items []T }

func (s *Stack[T]) Pop() T {
	it := s.items[len(s.items)-1] // panics on an empty stack
	s.items = s.items[:len(s.items)-1]
	return it
}

func Apply[T any](xs []T, f func(T)) {
	for _, x := range xs {
		f(x)
	}
}

func panicGeneric() {
	Apply([]int{1}, func(int) {
		var s Stack[string]
		s.Pop()
	})
}

func panicElided() { recurse(0, 200, func() { panic("deep") }) }

//go:noinline
func recurse(i, n int, f func()) int {
	if i == n {
		f()
		return 0
	}
	return recurse(i+1, n, f) + 1
}

func panicLabels() {
	pprof.Do(context.Background(), pprof.Labels("request", "r-17", "user", "u\"q"), func(context.Context) {
		panic("labelled")
	})
}

func panicAncestors() {
	go func() {
		go func() {
			panic("grandchild")
		}()
		select {}
	}()
	select {}
}

// panicStates leaves goroutines in many different wait states, then panics
// in one of them; run with GOTRACEBACK=all to see them all.
func panicStates() {
	var mu sync.Mutex
	mu.Lock()
	var rw sync.RWMutex
	rw.Lock()
	var wg sync.WaitGroup
	wg.Add(1)
	cond := sync.NewCond(&sync.Mutex{})
	recvOnly, sendOnly, selected, locked := make(chan int), make(chan int), make(chan int), make(chan int)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	var ready sync.WaitGroup
	start := func(f func()) {
		ready.Add(1)
		go func() {
			ready.Done()
			f()
		}()
	}
	start(func() { <-recvOnly })
	start(func() { sendOnly <- 1 })
	start(func() {
		select {
		case <-selected:
		case <-time.After(time.Hour):
		}
	})
	start(func() { select {} })
	start(func() { time.Sleep(time.Hour) })
	start(func() { mu.Lock() })
	start(func() { rw.RLock() })
	start(func() { wg.Wait() })
	start(func() {
		cond.L.Lock()
		cond.Wait()
	})
	start(func() { ln.Accept() })
	start(func() {
		runtime.LockOSThread()
		<-locked
	})
	start(func() {
		var b [1]byte
		syscall.Read(p[0], b[:]) // a raw blocking read: state "syscall"
	})
	ready.Wait()
	time.Sleep(100 * time.Millisecond) // let them all block
	go func() {
		var t thing
		t.explode("states")
	}()
	select {}
}

// panicMany starts CRASHGEN_N (default 10000) goroutines blocked on a
// channel, then panics: the input of BenchmarkParse10kGoroutines.
func panicMany() {
	n := 10000
	if s := os.Getenv("CRASHGEN_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	block := make(chan struct{})
	var ready sync.WaitGroup
	for i := 0; i < n; i++ {
		ready.Add(1)
		go waiter(block, &ready)
	}
	ready.Wait()
	time.Sleep(50 * time.Millisecond)
	panic(fmt.Sprintf("%d goroutines blocked", n))
}

// panicBusy panics while other goroutines keep other threads busy: with
// GOTRACEBACK=crash the runtime then relays SIGQUIT to those threads.
func panicBusy() {
	var ready sync.WaitGroup
	for i := 0; i < 3; i++ {
		ready.Add(1)
		go spin(&ready)
	}
	ready.Wait()
	panic("busy")
}

var spins int

func spin(ready *sync.WaitGroup) {
	ready.Done()
	for {
		spins++
	}
}

func waiter(block chan struct{}, ready *sync.WaitGroup) {
	ready.Done()
	<-block
}

func goexitDeadlock() {
	go func() {
		var never chan int
		<-never
	}()
	runtime.Goexit()
}

type node struct {
	next *node
	val  int
}

func nilDeref() {
	var n *node
	fmt.Println(n.next.val)
}

func indexOutOfRange() {
	s := []int{1, 2, 3}
	i := 5
	fmt.Println(s[i])
}

func divideByZero() {
	a, b := 1, 0
	fmt.Println(a / b)
}

// unmapped is far above the zero page (so not a nil dereference) and, on
// linux/amd64 with a non-PIE executable mapped at 0x400000, far below the
// text segment: a fault here is "unexpected fault address".
const unmapped = 0x1000000

func faultAddr() {
	p := (*int)(unsafe.Add(unsafe.Pointer(nil), unmapped))
	fmt.Println(*p)
}

func panicOnFault() {
	debug.SetPanicOnFault(true)
	faultAddr()
}

func mapWrites() {
	m := map[string]int{}
	for i := 0; i < 2; i++ {
		go func() {
			for j := 0; ; j++ {
				m[strconv.Itoa(j&1023)] = j
			}
		}()
	}
	select {}
}

func mapReadWrite() {
	m := map[int]int{}
	go func() {
		for j := 0; ; j++ {
			m[j&1023] = j
		}
	}()
	go func() {
		for j := 0; ; j++ {
			_ = m[j&1023]
		}
	}()
	select {}
}

func mapIterWrite() {
	m := map[int]int{}
	for i := 0; i < 64; i++ {
		m[i] = i
	}
	go func() {
		for j := 0; ; j++ {
			m[j&1023] = j
		}
	}()
	go func() {
		for {
			for k := range m {
				_ = k
			}
		}
	}()
	select {}
}

func deadlock() {
	other := make(chan int)
	go func() { other <- 1 }()
	var mu sync.Mutex
	mu.Lock()
	go func() { mu.Lock() }()
	time.Sleep(20 * time.Millisecond)
	never := make(chan int)
	<-never
}

func stackOverflow() {
	// The default limit is 1 GB: overflowing it takes seconds and a lot
	// of memory. The crash output is the same apart from the number.
	debug.SetMaxStack(4 << 20)
	recurseForever(0)
}

//go:noinline
func recurseForever(i int) int {
	var pad [64]byte
	pad[i%64] = byte(i)
	return recurseForever(i+1) + int(pad[0])
}

var sink []byte

func outOfMemory() {
	// Cap the address space a little above what the process uses now,
	// so that the next large allocation cannot reserve its arena.
	var vsz uint64
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmSize:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				vsz = kb << 10
			}
		}
	}
	if vsz == 0 {
		panic("crashgen: no VmSize")
	}
	lim := &syscall.Rlimit{Cur: vsz + 32<<20, Max: vsz + 32<<20}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
		panic(err)
	}
	sink = make([]byte, 1<<30)
}

func mutexUnlock() {
	var mu sync.Mutex
	mu.Unlock()
}

// sigquit sends the process SIGQUIT while two goroutines keep threads busy:
// with GOTRACEBACK=crash the runtime relays SIGQUIT to every thread.
func rwmutexRUnlock() {
	var rw sync.RWMutex
	rw.RUnlock()
}

func goNilFunc() {
	var f func()
	go f()
	select {}
}

func sigquit() {
	var ready sync.WaitGroup
	for i := 0; i < 2; i++ {
		ready.Add(1)
		go spin(&ready)
	}
	ready.Wait()
	syscall.Kill(os.Getpid(), syscall.SIGQUIT)
	time.Sleep(5 * time.Second)
}

// badStringer panics while the runtime prints the panic value.
type badStringer struct{}

func (badStringer) String() string { panic("String failed") }

func throwInPanicPrint() { panic(badStringer{}) }
