package main

import (
	"fmt"
	"path/filepath"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// printEvent shows the parts of an event a person checks first.
func printEvent(e sentrytest.Received) {
	fmt.Printf("   event_id   %s\n", e.EventID)
	fmt.Printf("   level      %v\n", e.Event["level"])
	exc := first(path(e.Event, "exception", "values"))
	fmt.Printf("   exception  %v: %v\n", exc["type"], exc["value"])
	mech, _ := exc["mechanism"].(map[string]any)
	fmt.Printf("   mechanism  %v (handled: %v)\n", mech["type"], mech["handled"])
	frames, _ := path(exc, "stacktrace", "frames").([]any)
	fmt.Printf("   top in-app frames (innermost first):\n")
	shown := 0
	for i := len(frames) - 1; i >= 0 && shown < 3; i-- {
		f, _ := frames[i].(map[string]any)
		if f["in_app"] == true {
			file, _ := f["abs_path"].(string)
			fmt.Printf("     %v.%v  %s:%v\n", f["module"], f["function"], filepath.Base(file), f["lineno"])
			shown++
		}
	}
	threads, _ := path(e.Event, "threads", "values").([]any)
	fmt.Printf("   threads    %d goroutine(s)\n", len(threads))
	for _, a := range e.Attachments {
		fmt.Printf("   attachment %s (%d bytes)\n", a.Filename, len(a.Data))
	}
	if e.SchemaErr != nil {
		fmt.Printf("   schema     INVALID: %v\n", e.SchemaErr)
	} else {
		fmt.Printf("   schema     valid against Sentry's event schema\n")
	}
}

func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func first(v any) map[string]any {
	l, _ := v.([]any)
	if len(l) == 0 {
		return map[string]any{}
	}
	m, _ := l[0].(map[string]any)
	return m
}
