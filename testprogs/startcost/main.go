// Command startcost measures what crashguard adds to the start of a program
// that does nothing else: crashguard/bench_test.go runs it over and over
// with each -variant and compares the wall time from exec to exit.
//
//	bare                does nothing and exits 0: the floor
//	install             crashguard.Install with Options{Dir: $CRASHGUARD_DIR}, no DSN
//	install-native-off  the same with DisableNative: true
//	install-monitor     the same with Monitor: true (the helper starts in the
//	                    background; the program exits without waiting for it)
//	sentry-init         sentry.Init with a DSN to a closed local port (nothing is
//	                    sent: the program exits before any event): the peer
//
// Every variant is this same binary: crashguard and sentry-go are linked in
// (and their package init functions run) whichever variant is chosen, so the
// binary size, the loader's work and the Go runtime and package
// initialization are identical and only the one call differs.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
)

func main() {
	variant := flag.String("variant", "bare", "bare, install, install-native-off, install-monitor or sentry-init")
	flag.Parse()
	var err error
	switch *variant {
	case "bare":
	case "install":
		_, err = crashguard.Install(crashguard.Options{Dir: os.Getenv("CRASHGUARD_DIR")})
	case "install-native-off":
		_, err = crashguard.Install(crashguard.Options{Dir: os.Getenv("CRASHGUARD_DIR"), DisableNative: true})
	case "install-monitor":
		_, err = crashguard.Install(crashguard.Options{Dir: os.Getenv("CRASHGUARD_DIR"), Monitor: true})
	case "sentry-init":
		err = sentry.Init(sentry.ClientOptions{Dsn: "http://key@127.0.0.1:9/1"})
	default:
		err = fmt.Errorf("unknown variant %q", *variant)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "startcost:", err)
		os.Exit(1)
	}
}
