package traceback

import (
	"strconv"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/signals"
)

// parseSignalLine parses the signal line the runtime prints before a
// traceback caused by a signal (runtime/panic.go dopanic_m):
//
//	[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2f1c]
//	[signal 0xb code=0x1 addr=0x0 pc=0x4a2f1c]
func parseSignalLine(line, goos string) (*report.Signal, bool) {
	body, ok := strings.CutPrefix(line, "[signal ")
	if !ok || !strings.HasSuffix(body, "]") {
		return nil, false
	}
	body = body[:len(body)-1]
	i := strings.Index(body, " code=")
	if i < 0 {
		return nil, false
	}
	sig := &report.Signal{}
	setSignalName(sig, body[:i], goos)
	for _, kv := range strings.Fields(body[i:]) {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := parseHex(v)
		switch k {
		case "code":
			sig.Code = n
		case "addr":
			sig.Addr = n
		case "pc":
			sig.PC = n
		}
	}
	return sig, true
}

// setSignalName fills Name, Description and Number from the runtime's
// "SIGSEGV: segmentation violation", or from "0xb" when it had no name.
func setSignalName(sig *report.Signal, s, goos string) {
	if n, ok := parseHex(s); ok {
		sig.Number = int(n)
		sig.Name = signals.Name(goos, int(n))
		return
	}
	sig.Name, sig.Description, _ = strings.Cut(s, ": ")
	sig.Number = signals.Number(goos, sig.Name)
}

// parseFatalSignal parses the two lines the runtime's signal handler
// prints for a signal it cannot turn into a panic (runtime/signal_unix.go
// fatalsignal): a fault in C code or in the runtime, SIGQUIT, SIGABRT, ...
//
//	SIGSEGV: segmentation violation
//	PC=0x500fa0 m=0 sigcode=1 addr=0x0
//
// The first line may also be "Signal 45" for a signal without a name.
func parseFatalSignal(head, pcLine, goos string) (*report.Signal, bool) {
	if !strings.HasPrefix(pcLine, "PC=0x") {
		return nil, false
	}
	sig := &report.Signal{}
	switch {
	case isSignalName(head):
		setSignalName(sig, head, goos)
	case strings.HasPrefix(head, "Signal "):
		n, err := strconv.Atoi(head[len("Signal "):])
		if err != nil {
			return nil, false
		}
		sig.Number = n
		sig.Name = signals.Name(goos, n)
	default:
		return nil, false
	}
	for _, kv := range strings.Fields(pcLine) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PC":
			sig.PC, _ = parseHex(v)
		case "addr":
			sig.Addr, _ = parseHex(v)
		case "sigcode":
			// Decimal, and printed as unsigned: SI_TKILL (-6) shows as
			// 18446744073709551610.
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				sig.Code = n
			} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				sig.Code = uint64(n)
			}
		}
	}
	return sig, true
}

// isSignalName reports whether line looks like "SIGSEGV: segmentation
// violation", the first line of a fatal signal report.
func isSignalName(line string) bool {
	name, desc, ok := strings.Cut(line, ": ")
	if !ok || desc == "" || len(name) < 4 || !strings.HasPrefix(name, "SIG") {
		return false
	}
	for i := 3; i < len(name); i++ {
		if c := name[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
