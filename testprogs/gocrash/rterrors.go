//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/getsentry/sentry-go"
)

// The rt-* modes panic with one runtime error each, unrecovered: one mode
// per entry of crashguard's table of runtime error types
// (internal/sentryevent/runtimeerrors.go). With GOCRASH_SENTRYGO=1 the same
// panic is recovered instead and given to sentry-go's Hub.Recover, and the
// exception type and value (or message) sentry-go would send are printed as
// one line of JSON after "gocrash: sentry-go ", then the program exits 0:
// the test compares what each SDK names the same panic.
func init() {
	for name, f := range rtModes {
		modes[name] = rtMode(f)
	}
}

var rtModes = map[string]func(){
	"rt-index":          rtIndex,
	"rt-slice":          rtSlice,
	"rt-convert":        rtConvert,
	"rt-divide":         rtDivide,
	"rt-shift":          rtShift,
	"rt-makeslice":      rtMakeslice,
	"rt-growslice":      rtGrowslice,
	"rt-unhashable":     rtUnhashable,
	"rt-uncomparable":   rtUncomparable,
	"rt-unsafe-slice":   rtUnsafeSlice,
	"rt-unsafe-string":  rtUnsafeString,
	"rt-range-func":     rtRangeFunc,
	"rt-nil-map":        rtNilMap,
	"rt-close-nil":      rtCloseNil,
	"rt-close-closed":   rtCloseClosed,
	"rt-send-closed":    rtSendClosed,
	"rt-makechan":       rtMakechan,
	"rt-type-assert":    rtTypeAssert,
	"rt-panic-nil":      rtPanicNil,
	"rt-nil-deref":      func() { nilDeref() },
	"rt-panic-on-fault": rtPanicOnFault,
	"rt-error-value":    func() { panic(fmt.Errorf("gocrash: wrapped: %w", os.ErrNotExist)) },
	"rt-string-value":   func() { panic("gocrash: a string") },
}

func rtMode(f func()) func() {
	return func() {
		if os.Getenv("GOCRASH_SENTRYGO") == "1" {
			sentryGoRecover(f)
			return
		}
		f()
	}
}

// sentryGoRecover runs f, recovers its panic as a program using sentry-go
// would (hub.Recover in a deferred function) and prints the event's
// exception type and value, or its message.
func sentryGoRecover(f func()) {
	var got *sentry.Event
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn: "http://public@127.0.0.1:9/1", // never used: BeforeSend drops the event
		BeforeSend: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			got = e
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gocrash: sentry-go:", err)
		os.Exit(70)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	func() {
		defer func() {
			if r := recover(); r != nil {
				hub.Recover(r)
			}
		}()
		f()
	}()
	out := map[string]string{}
	if got != nil {
		out["message"] = got.Message
		if n := len(got.Exception); n > 0 {
			// sentry-go lists a chain innermost cause first; the last is
			// the recovered value itself.
			out["type"] = got.Exception[n-1].Type
			out["value"] = got.Exception[n-1].Value
		}
	}
	b, _ := json.Marshal(out)
	fmt.Printf("gocrash: sentry-go %s\n", b)
}

// Operands come from variables so that the compiler cannot reject or fold
// the faulty operation.
var (
	rtThree = 3
	rtFive  = 5
	rtZero  = 0
	rtMinus = -1
	rtNil   *byte
)

//go:noinline
func rtIndex() {
	s := make([]int, rtThree)
	fmt.Println(s[rtFive])
}

//go:noinline
func rtSlice() {
	s := make([]int, 2, 4)
	fmt.Println(s[:rtFive+2])
}

//go:noinline
func rtConvert() {
	s := make([]int, 2)
	fmt.Println([4]int(s[:rtThree-1]))
}

//go:noinline
func rtDivide() { fmt.Println(rtFive / rtZero) }

//go:noinline
func rtShift() { fmt.Println(1 << rtMinus) }

//go:noinline
func rtMakeslice() { fmt.Println(len(make([]int, rtMinus))) }

//go:noinline
func rtGrowslice() {
	// Zero-size elements: the length can reach MaxInt without memory, and
	// one more overflows it.
	s := make([]struct{}, math.MaxInt-rtZero)
	s = append(s, struct{}{})
	fmt.Println(len(s))
}

//go:noinline
func rtUnhashable() {
	m := map[any]int{}
	m[any([]int{rtThree})] = 1
}

//go:noinline
func rtUncomparable() {
	var a, b any = []int{rtThree}, []int{rtThree}
	fmt.Println(a == b)
}

//go:noinline
func rtUnsafeSlice() { fmt.Println(len(unsafe.Slice(rtNil, rtThree))) }

//go:noinline
func rtUnsafeString() { fmt.Println(unsafe.String(rtNil, rtThree)) }

//go:noinline
func rtRangeFunc() {
	// An iterator that ignores yield's false.
	seq := func(yield func(int) bool) {
		yield(1)
		yield(2)
	}
	for range seq {
		break
	}
}

//go:noinline
func rtNilMap() {
	var m map[string]int
	m["gocrash"] = rtThree
}

//go:noinline
func rtCloseNil() {
	var c chan int
	close(c)
}

//go:noinline
func rtCloseClosed() {
	c := make(chan int)
	close(c)
	close(c)
}

//go:noinline
func rtSendClosed() {
	c := make(chan int, 1)
	close(c)
	c <- rtThree
}

//go:noinline
func rtMakechan() { fmt.Println(cap(make(chan int, rtMinus))) }

//go:noinline
func rtTypeAssert() {
	var x any = "gocrash"
	fmt.Println(x.(int))
}

//go:noinline
func rtPanicNil() { panic(nil) }

//go:noinline
func rtPanicOnFault() {
	debug.SetPanicOnFault(true)
	p := (*int)(unsafe.Add(unsafe.Pointer(nil), 0xdead0000+rtZero))
	*p = 1
}
