package crashguard_test

import (
	"context"
	"log"
	"os"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
)

// Install at the top of main, as the package doc shows. A crash after this
// point reaches Sentry from this run's files: through the next start of the
// program, a Flush, or the monitor. (No Output: it installs handlers and
// would deliver earlier runs' crashes.)
func Example() {
	g, err := crashguard.Install(crashguard.Options{
		Sentry: sentry.ClientOptions{Dsn: "https://key@o0.ingest.sentry.io/1"},
	})
	if err != nil {
		log.Print(err) // it says "crashguard: "; capture still works locally
	}
	// Deliver what earlier runs left before exiting, bounded by
	// Options.FlushTimeout.
	defer g.Flush(context.Background())

	var m map[string]int
	m["crash"]++ // a panic: its report reaches Sentry after this process died
}

// The program's own sentry-go set up with BeforeBreadcrumb, so that a crash
// event carries the exact breadcrumbs up to the crash.
func ExampleBeforeBreadcrumb() {
	dsn := os.Getenv("SENTRY_DSN")
	if err := sentry.Init(sentry.ClientOptions{Dsn: dsn, BeforeBreadcrumb: crashguard.BeforeBreadcrumb}); err != nil {
		log.Print(err)
	}
	if _, err := crashguard.Install(crashguard.Options{Sentry: sentry.ClientOptions{Dsn: dsn}}); err != nil {
		log.Print(err)
	}
	sentry.AddBreadcrumb(&sentry.Breadcrumb{Category: "job", Message: "started"})
}
