package collector

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/traceback"
)

// maxQuarantineRaw caps how much of a damaged run file is kept in
// quarantine: enough to see what it was, never a disk's worth.
const maxQuarantineRaw = 1 << 20

// crashOutput is the Go crash output found in a run file.
type crashOutput struct {
	text   []byte
	parsed *traceback.Result
}

// findCrashOutput looks for Go crash output in a run file's content. It is
// there only when the text is recognisably what the runtime writes to the
// SetCrashOutput file: its first line opens a crash (isOpener), and the
// traceback parser finds at least one goroutine or runtime stack in it. That
// is what every real crash output has, of every Go release in
// internal/traceback/testdata; bytes that a power loss, a bad disk or
// another program left behind do not have it, and a report made of them
// would be an invented crash.
//
// After a valid metadata line the output starts right there (blank lines
// aside). With a damaged metadata line it may follow that line, or follow
// the zeroed bytes a lost write left (a run of NULs), so those starts are
// tried too. why says what was found when there is no crash output.
func findCrashOutput(c *runfile.Content, h traceback.Hints) (out *crashOutput, why string) {
	starts := [][]byte{c.Output}
	if c.Meta == nil {
		// Earliest start first, so that nothing of the crash output is
		// dropped with the damaged line.
		line, rest, _ := bytes.Cut(c.Output, []byte("\n"))
		if i := bytes.LastIndexByte(line, 0); i >= 0 {
			starts = append(starts, c.Output[i+1:])
		}
		starts = append(starts, rest)
	}
	why = "no line that opens a Go crash output"
	for _, b := range starts {
		b = trimStart(b)
		first, _, _ := bytes.Cut(b, []byte("\n"))
		if !isOpener(string(first), b) {
			continue
		}
		res, err := traceback.ParseWith(b, h)
		if err != nil || res == nil || len(res.Goroutines) == 0 && len(res.RuntimeStack) == 0 {
			why = fmt.Sprintf("opens like Go crash output (%q) but holds no goroutine or runtime stack", clip(first, 80))
			continue
		}
		return &crashOutput{text: b, parsed: res}, ""
	}
	return nil, why
}

// trimStart drops what may come before a crash output's first line: the
// blank line the runtime sometimes prints first, and NUL bytes, which the
// runtime never writes.
func trimStart(b []byte) []byte {
	return bytes.TrimLeft(b, "\x00\n\r ")
}

// isOpener reports whether line can be the first line of the runtime's
// crash output in the SetCrashOutput file. Go 1.23-1.26 leave out every line
// printed before the runtime starts dying (golang/go#76859), so besides the
// panic, fatal error and signal lines a crash output can start with a
// goroutine header or "runtime stack:". The fatal error and "runtime:"
// forms are what a Go release with that bug fixed would write first.
func isOpener(line string, text []byte) bool {
	switch {
	case strings.HasPrefix(line, "panic: "),
		strings.HasPrefix(line, "fatal error: "),
		strings.HasPrefix(line, "runtime: "),
		strings.HasPrefix(line, "unexpected fault address 0x"),
		strings.HasPrefix(line, "accessed data from freed user arena 0x"),
		strings.HasPrefix(line, "[signal ") && strings.HasSuffix(line, "]"),
		line == "runtime stack:",
		isGoroutineHeader(line):
		return true
	}
	// A fatal signal: "SIGSEGV: segmentation violation" or "Signal 45"
	// (unix), "Exception 0xc0000005 0x0 0x0 0x7ff6..." (windows), always
	// followed by the "PC=0x..." line.
	if isSignalHead(line) {
		_, rest, _ := bytes.Cut(text, []byte("\n"))
		return bytes.HasPrefix(rest, []byte("PC=0x"))
	}
	return false
}

// isSignalHead reports whether line is the first line the runtime prints for
// a fatal signal.
func isSignalHead(line string) bool {
	if rest, ok := strings.CutPrefix(line, "Signal "); ok {
		return rest != "" && strings.Trim(rest, "0123456789") == ""
	}
	if strings.HasPrefix(line, "Exception 0x") {
		return true
	}
	name, desc, ok := strings.Cut(line, ": ")
	if !ok || desc == "" || len(name) < 4 || !strings.HasPrefix(name, "SIG") {
		return false
	}
	return strings.Trim(name[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}

// isGoroutineHeader reports whether line is a goroutine header as the
// runtime prints it: "goroutine 7 [chan receive]:", "goroutine 1 gp=0xc000002380
// m=0 mp=0x62ab40 [running]:".
func isGoroutineHeader(line string) bool {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok {
		return false
	}
	n := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
	if n == 0 || n > 19 {
		return false
	}
	rest = rest[n:]
	return (strings.HasPrefix(rest, " [") || strings.HasPrefix(rest, " gp=0x")) &&
		strings.Contains(rest, "[") && strings.HasSuffix(rest, "]:")
}

// damage describes a run file that is neither a crash nor a clean end.
func damage(c *runfile.Content, why string) *Damage {
	reason := "not Go crash output: " + why
	if c.Meta == nil {
		reason = "metadata line unreadable and " + reason
	}
	if allNUL(c.Raw) {
		reason += "; every byte is NUL, as an unwritten file after a power loss reads"
	}
	raw := c.Raw
	if len(raw) > maxQuarantineRaw {
		raw = raw[:maxQuarantineRaw]
	}
	details := fmt.Sprintf("run file size: %d bytes (first %d kept here)\nmodified: %s\n",
		c.Size, len(raw), c.ModTime.UTC().Format("2006-01-02T15:04:05.000000000Z"))
	if c.MetaErr != nil {
		details += "metadata: " + c.MetaErr.Error() + "\n"
	}
	return &Damage{Reason: reason, Details: details, Raw: raw}
}

func allNUL(b []byte) bool {
	return len(b) > 0 && len(bytes.Trim(b, "\x00")) == 0
}

// clip shortens b to at most n bytes for a message.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
