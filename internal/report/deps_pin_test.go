package report

// Temporary: keeps the project's dependencies in go.mod while the packages that
// use them are being written in parallel. Removed once they exist.
import (
	_ "github.com/getsentry/sentry-go"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/sys/unix"
)
