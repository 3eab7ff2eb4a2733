package sentryevent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDebugIDFromBuildID(t *testing.T) {
	for _, tt := range []struct{ buildID, debugID string }{
		// Known pairs from getsentry/sentry-native tests/unit/test_modulefinder.c
		// (build_id_parser: code_id → debug_id of its ELF fixtures).
		{"1c304742f114215453a8a777f6cdb3a2b8505e11", "4247301c-14f1-5421-53a8-a777f6cdb3a2"},
		{"b4c24a6cc995c17fb18a65184a65863cfc01c673", "6c4ac2b4-95c9-7fc1-b18a-65184a65863c"},
		// Upper case input is the same id.
		{"1C304742F114215453A8A777F6CDB3A2B8505E11", "4247301c-14f1-5421-53a8-a777f6cdb3a2"},
		// Exactly 16 bytes.
		{"000102030405060708090a0b0c0d0e0f", "03020100-0504-0706-0809-0a0b0c0d0e0f"},
		// Shorter than 16 bytes: zero-padded before the swap.
		{"0102030405060708", "04030201-0605-0807-0000-000000000000"},
	} {
		got, err := DebugIDFromBuildID(tt.buildID)
		require.NoError(t, err, tt.buildID)
		assert.Equal(t, tt.debugID, got, tt.buildID)
	}
	for _, bad := range []string{"", "xyz", "abc"} {
		_, err := DebugIDFromBuildID(bad)
		assert.ErrorIs(t, err, ErrInvalidReport, bad)
	}
}

func TestNormalizeUUID(t *testing.T) {
	got, err := normalizeUUID("6A2C7D3B1C4E3F5A9B8D7E6F5A4B3C2D")
	require.NoError(t, err)
	assert.Equal(t, "6a2c7d3b-1c4e-3f5a-9b8d-7e6f5a4b3c2d", got)
	_, err = normalizeUUID("6A2C7D3B")
	assert.ErrorIs(t, err, ErrInvalidReport)
}
