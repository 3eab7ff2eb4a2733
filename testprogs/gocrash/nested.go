//go:build unix

package main

import (
	"errors"
	"fmt"
)

// nestedPanic panics three times, the way a real failure often does: an
// index out of range, recovered by a deferred call that panics with more
// context, and then a deferred cleanup that panics too. Go prints all
// three, the first marked [recovered]; the process dies of the last.
//
//go:noinline
func nestedPanic() {
	defer cleanup()
	defer addContext()
	items := make([]int, 3)
	i := len(items) + 2
	fmt.Println(items[i]) // the first panic: a runtime.Error
}

// addContext recovers the first panic and panics again with more context.
//
//go:noinline
func addContext() {
	r := recover()
	panic(fmt.Sprintf("gocrash: request failed: %v", r))
}

// cleanup panics while the second panic unwinds.
//
//go:noinline
func cleanup() {
	panic(errors.New("gocrash: cleanup failed"))
}
