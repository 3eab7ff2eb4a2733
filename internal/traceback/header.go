package traceback

import (
	"strconv"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// parseGoroutineHeader parses a goroutine header line in any of the forms
// the runtime prints (runtime/traceback.go goroutineheader):
//
//	goroutine 1 [running]:
//	goroutine 7 [chan receive, 3 minutes]:
//	goroutine 5 [select, locked to thread]:
//	goroutine 1 gp=0xc000002380 m=0 mp=0x62ab40 [running]:      (Go 1.23+, system/crash or a throw)
//	goroutine 9 gp=0xc000003500 m=nil [GC sweep wait]:
//	goroutine 3 [running labels:{"k": "v"}]:                     (Go 1.26+, GODEBUG=tracebacklabels=1; labels.go)
//	goroutine 4 [sleep (durable), synctest bubble 1]:
//	goroutine 8 [chan receive (scan)]:
//
// The id may be 0: that is g0, the system stack of a thread.
func parseGoroutineHeader(line string) (g report.Goroutine, ok bool) {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok {
		return g, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i > 19 {
		return g, false
	}
	id, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil {
		return g, false
	}
	rest = rest[i:]
	open := strings.IndexByte(rest, '[')
	if open < 0 || !strings.HasSuffix(rest, "]:") {
		return g, false
	}
	g.ID = id
	body := rest[open+1 : len(rest)-2]
	// Labels are quoted strings that may hold ", " and "]": cut them off
	// before splitting the rest. No wait reason holds " labels:{".
	if j := strings.Index(body, " labels:{"); j >= 0 {
		text := body[j+1:]
		body = body[:j]
		if labels, ok := parseLabels(text); ok {
			g.Labels = labels
		} else {
			g.LabelsUnparsed = text
		}
	}
	state, attrs, _ := strings.Cut(body, ", ")
	g.State = state
	for attrs != "" {
		var a string
		a, attrs, _ = strings.Cut(attrs, ", ")
		switch {
		case a == "locked to thread":
			g.Locked = true
		case strings.HasSuffix(a, " minutes"):
			if n, err := strconv.Atoi(strings.TrimSuffix(a, " minutes")); err == nil {
				g.WaitMinutes = n
			}
		}
	}
	return g, true
}

// parseCreatedBy parses "created by main.f in goroutine 1" (Go 1.21+) or
// "created by main.f" into a frame (location still to come) and the id of
// the creating goroutine.
func parseCreatedBy(line string) (report.Frame, int64) {
	rest := strings.TrimPrefix(line, "created by ")
	var parent int64
	if i := strings.LastIndex(rest, " in goroutine "); i >= 0 {
		if n, err := strconv.ParseInt(rest[i+len(" in goroutine "):], 10, 64); err == nil {
			parent = n
			rest = rest[:i]
		}
	}
	return report.Frame{Function: rest, Package: packageOf(rest)}, parent
}

// isActiveState reports whether a goroutine state means the goroutine was
// on a thread or ready for one, as opposed to blocked. The runtime prints
// the wait reason in place of "waiting", so any other state is a wait.
func isActiveState(state string) bool {
	state, _, _ = strings.Cut(state, " (") // "(scan)", "(durable)", "(leaked)"
	switch state {
	case "running", "runnable", "syscall", "copystack", "preempted", "idle":
		return true
	}
	return false
}
