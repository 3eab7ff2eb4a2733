package crashguard

import "github.com/getsentry/sentry-go"

func sentryOpts(dsn string) sentry.ClientOptions { return sentry.ClientOptions{Dsn: dsn} }
