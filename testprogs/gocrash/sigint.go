//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// panicOnSigint waits for SIGINT (a Ctrl-C, sent to the whole process
// group) and then panics: the monitor, in a session of its own, must
// survive the same signal and still deliver.
func panicOnSigint() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT)
	fmt.Println("gocrash: waiting for SIGINT")
	<-ch
	panic("gocrash: panic after SIGINT")
}
