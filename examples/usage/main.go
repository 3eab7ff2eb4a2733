// Command usage is the README's Usage block, kept here so that it compiles
// and the tests run it as it stands (crashguard/readme_test.go checks that
// the two are the same, byte for byte).
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
)

func main() {
	g, err := crashguard.Install(crashguard.Options{
		Sentry: sentry.ClientOptions{
			Dsn:     os.Getenv("SENTRY_DSN"), // e.g. "https://key@o0.ingest.sentry.io/1"
			Release: "my-app@1.2.3",
		},
	})
	if err != nil {
		// Install never returns a nil Guard, and capture goes on wherever it
		// can (g.Layers() says what is on): log and carry on. The error
		// already says "crashguard: ".
		log.Print(err)
	}
	// Optional: deliver what earlier runs left, now. A context without a
	// deadline is bounded by Options.FlushTimeout (2 s by default).
	defer g.Flush(context.Background())

	fmt.Println("my-app: doing its work")
}
