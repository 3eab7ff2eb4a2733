//go:build !cgo || !(linux || darwin)

package native

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnavailableWithoutCgo(t *testing.T) {
	assert.False(t, Available())
	_, err := Install("/nonexistent", Options{})
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = RefreshImages()
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NoError(t, Uninstall())
	SetSuppressMode(SuppressExit)
}
