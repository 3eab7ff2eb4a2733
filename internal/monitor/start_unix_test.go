//go:build unix

package monitor

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMonitorEnvCarriesNoDSN(t *testing.T) {
	got := monitorEnv([]string{
		"PATH=/bin", "SENTRY_DSN=https://secret@o0.ingest.sentry.io/1", "HTTPS_PROXY=http://proxy:3128",
		Marker + "=9", "GOMAXPROCS=8", "SENTRY_RELEASE=app@1",
	})
	assert.Equal(t, []string{
		"PATH=/bin", "HTTPS_PROXY=http://proxy:3128", "SENTRY_RELEASE=app@1",
		Marker + "=3", "GOMAXPROCS=1",
	}, got)
}
