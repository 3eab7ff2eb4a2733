package native

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goText needs no cgo: it is checked in every build.
func TestGoTextBounds(t *testing.T) {
	lo, hi := goText()
	require.NotZero(t, lo)
	require.Greater(t, hi, lo)
	for _, fn := range []any{TestGoTextBounds, runtime.GC, reflect.ValueOf} {
		pc := reflect.ValueOf(fn).Pointer()
		assert.True(t, pc >= lo && pc < hi, "%#x not in [%#x, %#x)", pc, lo, hi)
	}
	assert.NotNil(t, runtime.FuncForPC(lo))
	assert.NotNil(t, runtime.FuncForPC(hi-1))
	assert.Nil(t, runtime.FuncForPC(hi))
	assert.Nil(t, runtime.FuncForPC(lo-1))
}
