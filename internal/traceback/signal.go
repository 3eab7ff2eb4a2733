package traceback

import (
	"strconv"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// Signal numbers by name. Go prints the name, not the number, and the
// numbers differ between kernels: SIGBUS is 7 on Linux and 10 on darwin.
// Linux numbers are those of amd64/arm64/386/arm/riscv64/ppc64/s390x
// (mips and sparc differ; crashguard does not target them). Checked against
// golang.org/x/sys/unix zerrors_linux*.go and zerrors_darwin_*.go.
var (
	signalsLinux = map[string]int{
		"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5,
		"SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10,
		"SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
		"SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20,
		"SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
		"SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30,
		"SIGSYS": 31,
	}
	signalsDarwin = map[string]int{
		"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5,
		"SIGABRT": 6, "SIGEMT": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGBUS": 10,
		"SIGSEGV": 11, "SIGSYS": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
		"SIGURG": 16, "SIGSTOP": 17, "SIGTSTP": 18, "SIGCONT": 19, "SIGCHLD": 20,
		"SIGTTIN": 21, "SIGTTOU": 22, "SIGIO": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
		"SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGINFO": 29, "SIGUSR1": 30,
		"SIGUSR2": 31,
	}
)

func signalTable(goos string) map[string]int {
	switch goos {
	case "linux", "android":
		return signalsLinux
	case "darwin", "ios":
		return signalsDarwin
	}
	return nil
}

// SignalNumber returns the number of the signal called name ("SIGBUS") on
// goos ("linux", "darwin"), or 0 when it is not known there.
func SignalNumber(goos, name string) int {
	return signalTable(goos)[name]
}

// signalName is the inverse of SignalNumber, for "[signal 0xb ...]" lines
// where the runtime had no name.
func signalName(goos string, n int) string {
	for name, v := range signalTable(goos) {
		if v == n {
			return name
		}
	}
	return ""
}

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
		sig.Name = signalName(goos, int(n))
		return
	}
	sig.Name, sig.Description, _ = strings.Cut(s, ": ")
	sig.Number = SignalNumber(goos, sig.Name)
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
		sig.Name, sig.Description, _ = strings.Cut(head, ": ")
		sig.Number = SignalNumber(goos, sig.Name)
	case strings.HasPrefix(head, "Signal "):
		n, err := strconv.Atoi(head[len("Signal "):])
		if err != nil {
			return nil, false
		}
		sig.Number = n
		sig.Name = signalName(goos, n)
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
