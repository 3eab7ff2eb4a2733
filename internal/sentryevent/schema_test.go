package sentryevent

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentryschema"
)

// requireValidEvent validates event JSON against Sentry's event schema.
func requireValidEvent(t *testing.T, event []byte) {
	t.Helper()
	require.NoError(t, sentryschema.Validate(event), "event does not validate:\n%s", event)
}
