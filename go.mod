module github.com/crashguard/crashguard-go

go 1.25.0

require (
	github.com/getsentry/sentry-go v0.50.0 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
