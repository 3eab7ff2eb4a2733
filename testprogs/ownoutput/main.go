//go:build unix

// Command ownoutput is a program that sets its own debug.SetCrashOutput, as
// programs using golang.org/x/telemetry's crash monitor or their own crash
// log do, before or after crashguard.Install, and then panics. The tests use
// it to pin down what each order does (README "Your own SetCrashOutput").
//
//	OWNOUTPUT_FILE=/tmp/crash.txt ownoutput before|after
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/crashguard/crashguard-go/crashguard"
)

func setOwn() {
	f, err := os.OpenFile(os.Getenv("OWNOUTPUT_FILE"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ownoutput:", err)
		os.Exit(66)
	}
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "ownoutput:", err)
		os.Exit(66)
	}
	f.Close() // SetCrashOutput keeps its own duplicate
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "before" && os.Args[1] != "after") {
		fmt.Fprintln(os.Stderr, "usage: ownoutput before|after")
		os.Exit(64)
	}
	if os.Args[1] == "before" {
		setOwn()
	}
	g, err := crashguard.Install(crashguard.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ownoutput: install:", err)
	}
	if os.Args[1] == "after" {
		setOwn()
	}
	fmt.Printf("ownoutput: installed run=%s\n", g.RunID())
	panic("ownoutput: deliberate panic")
}
