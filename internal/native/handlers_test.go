//go:build cgo && (linux || darwin)

package native

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassifyHandlers(t *testing.T) {
	sigs := []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGILL}
	cases := []struct {
		name   string
		names  []string
		goMask uint32
		allGo  bool
	}{
		{"Go's everywhere (cgo)", []string{"runtime.cgoSigtramp", "runtime.cgoSigtramp", "runtime.cgoSigtramp"}, 0b111, true},
		{"Go's everywhere", []string{"runtime.sigtramp", "runtime.sigtramp", "runtime.sigtramp"}, 0b111, true},
		{"a C handler before ours", []string{"runtime.sigtramp", "0x7f001234", "runtime.sigtramp"}, 0b101, false},
		{"default and ignored", []string{"SIG_DFL", "runtime.sigtramp", "SIG_IGN"}, 0b010, false},
		{"a Go function that is not the runtime's", []string{"main.sigtramp", "runtime.sigtramp", "runtime.sighandler"}, 0b010, false},
	}
	for _, c := range cases {
		var replaced []replacedHandler
		for i, n := range c.names {
			replaced = append(replaced, replacedHandler{sigs[i], n})
		}
		got := classifyHandlers(replaced)
		assert.Equal(t, c.goMask, got.goMask, c.name)
		assert.Equal(t, c.allGo, got.allGo, c.name)
		assert.Len(t, got.names, len(c.names), c.name)
		for i, n := range c.names {
			assert.Equal(t, sigs[i], got.signals[i], c.name)
			assert.Equal(t, n, got.names[sigs[i]], c.name)
		}
	}
}
