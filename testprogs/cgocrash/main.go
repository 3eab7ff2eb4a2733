//go:build cgo && (linux || darwin)

// Command cgocrash crashes in C code (through cgo, and on threads Go did not
// create) on purpose, with crashguard's native layer installed or not. The
// tests in internal/native run it as a child and compare the exit status
// with and without the native layer, then decode the flight recorder; the
// tests in crashguard/ run it with -crashguard (a real Install, over
// CRASHGUARD_DIR) and check the reports.
//
//	cgocrash -mode c-null-pthread -install -recorder /tmp/flight.bin
//	CRASHGUARD_DIR=/tmp/cg cgocrash -mode c-null-pthread -crashguard
//
// It prints "cgocrash: func NAME ADDR" for the C functions that fault, so
// a test can check the record's frames against their symbol ranges.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/crashguard/crashguard-go/crashguard"
	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/native"
	"github.com/crashguard/crashguard-go/testprogs/internal/corelimit"
	"github.com/crashguard/crashguard-go/testprogs/internal/monitorwait"
)

func main() {
	corelimit.RaiseFromEnv()
	modeName := flag.String("mode", "", "what to do (see -list)")
	list := flag.Bool("list", false, "list the modes")
	install := flag.Bool("install", false, "install the native layer first")
	viaCrashguard := flag.Bool("crashguard", false, "install through crashguard.Install (CRASHGUARD_DIR) instead of the native layer alone")
	suppressOS := flag.Bool("suppress-os", false, "with -crashguard: Options.SuppressOSCrashReports")
	toggle := flag.String("toggle", "", "with -crashguard: call SuppressOSCrashReports(on|off) after Install, before the crash")
	recorder := flag.String("recorder", "", "flight recorder file to create (with -install)")
	suppress := flag.Int("suppress", 0, "native suppression mode: 0 off, 1 exit")
	stamp := flag.String("stamp", "", "file (>= 8 bytes) where C stores the time just before the fault")
	tmp := flag.String("tmp", os.TempDir(), "directory for scratch files")
	flag.Parse()

	if *list {
		names := make([]string, 0, len(modes))
		for n := range modes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("%-20s %s\n", n, modes[n].doc)
		}
		return
	}
	m, ok := modes[*modeName]
	if !ok {
		fmt.Fprintf(os.Stderr, "cgocrash: unknown mode %q (see -list)\n", *modeName)
		os.Exit(64)
	}
	if *install {
		if err := flightrec.Create(*recorder); err != nil {
			fmt.Fprintf(os.Stderr, "cgocrash: %v\n", err)
			os.Exit(65)
		}
		l, err := native.Install(*recorder, native.Options{
			SuppressMode: native.SuppressMode(*suppress),
			Logf:         func(f string, a ...any) { fmt.Fprintf(os.Stderr, "cgocrash: "+f+"\n", a...) },
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "cgocrash: install: %v\n", err)
			os.Exit(66)
		}
		fmt.Fprintf(os.Stderr, "cgocrash: installed chain=%v chains_to_go=%v mach=%v images=%d go_text=%#x-%#x\n",
			l.SignalChain, l.ChainsToGo, l.Mach, l.Images, l.GoTextStart, l.GoTextEnd)
	}
	if *viaCrashguard {
		installCrashguard(*suppressOS, *toggle)
	}
	if *stamp != "" {
		if err := stampOpen(*stamp); err != nil {
			fmt.Fprintf(os.Stderr, "cgocrash: %v\n", err)
			os.Exit(67)
		}
	}
	printFuncs()
	if err := m.run(&config{tmp: *tmp}); err != nil {
		fmt.Fprintf(os.Stderr, "cgocrash: %s: %v\n", *modeName, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "cgocrash: %s: returned\n", *modeName)
}

// guard is the installed Guard (nil without -crashguard).
var guard *crashguard.Guard

// installCrashguard installs crashguard the way a user does, so the tests
// in crashguard/ see native crashes end to end.
func installCrashguard(suppress bool, toggle string) {
	g, err := crashguard.Install(crashguard.Options{
		SuppressOSCrashReports: suppress,
		Monitor:                os.Getenv("CGOCRASH_MONITOR") == "1",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cgocrash: crashguard: %v\n", err)
		os.Exit(68)
	}
	if toggle != "" {
		if err := g.SuppressOSCrashReports(toggle == "on"); err != nil {
			fmt.Fprintf(os.Stderr, "cgocrash: toggle: %v\n", err)
			os.Exit(69)
		}
	}
	guard = g
	fmt.Printf("cgocrash: crashguard run=%s layers=%s\n", g.RunID(), g.Layers())
	if os.Getenv("CGOCRASH_MONITOR") == "1" {
		monitorwait.Wait("cgocrash", g.RunID())
	}
}

func containsGzipped(gz []byte, s string) bool {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return false
	}
	raw, err := io.ReadAll(r)
	return err == nil && bytes.Contains(raw, []byte(s))
}
