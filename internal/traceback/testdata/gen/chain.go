package main

import (
	"fmt"
	"runtime"
	"sync"
)

// The panic-chain modes live in this file so that adding them moved no line
// of main.go: the testdata of every release keeps the line numbers it was
// generated with.
func init() {
	modes["panic_chain"] = panicChain
	modes["panic_goexit_chain"] = panicGoexitChain
	modes["panic_defer_fatal"] = panicDeferFatal
	modes["panic_repanic_fatal"] = panicRepanicFatal
	modes["goexit_fatal"] = goexitFatal
}

// panicChain panics three times: "first" is recovered by the deferred call
// that panics "second (after first)", which a deferred call run by that
// panic answers with "third".
func panicChain() {
	defer func() { panic("third") }()
	defer func() {
		r := recover()
		panic(fmt.Sprintf("second (after %v)", r))
	}()
	panic("first")
}

// panicGoexitChain calls runtime.Goexit from a deferred call of a panic, and
// a deferred call run by Goexit panics again: printpanics skips the Goexit.
func panicGoexitChain() {
	go func() {
		defer func() { panic("after Goexit") }()
		defer runtime.Goexit()
		panic("first")
	}()
	select {}
}

// panicDeferFatal is runtime/testdata/testprog's panicDeferFatal: a nil
// dereference, then a deferred Unlock of an unlocked mutex throws.
func panicDeferFatal() {
	var mu sync.Mutex
	defer mu.Unlock()
	var i *int
	*i = 0
}

// panicRepanicFatal is testprog's panicDoublieDeferFatal: the nil
// dereference is recovered and panicked again before the throw.
func panicRepanicFatal() {
	var mu sync.Mutex
	defer mu.Unlock()
	defer func() { panic(recover()) }()
	var i *int
	*i = 0
}

// goexitFatal throws in a deferred call of runtime.Goexit: the chain holds
// only the Goexit, so the throw's line is the first and starts with a tab.
func goexitFatal() {
	go func() {
		var mu sync.Mutex
		defer mu.Unlock()
		runtime.Goexit()
	}()
	select {}
}
