//go:build unix

package main

import "fmt"

// The lastrun mode prints what Guard.LastRun says of the previous run, for
// crashguard/lastrun_test.go, in one line:
//
//	gocrash: lastrun known=true crashed=true run=<id> kind=panic event=<id> message="..."
func init() {
	modes["lastrun"] = func() {
		lr, err := guard.LastRun()
		if err != nil {
			fmt.Println("gocrash: lastrun error:", err)
		}
		line := fmt.Sprintf("gocrash: lastrun known=%v crashed=%v run=%s", lr.Known, lr.Crashed, lr.RunID)
		if r := lr.Report; r != nil {
			line += fmt.Sprintf(" kind=%s event=%s message=%q", r.Kind, r.EventID, r.Message)
		}
		fmt.Println(line)
	}
}
