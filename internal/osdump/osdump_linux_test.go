//go:build linux

package osdump

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSuppressThenRestoreGivesBackExactlyWhatWasThere(t *testing.T) {
	// Start from a non-trivial core limit so "restored" cannot pass by
	// accident of both values being zero.
	var orig unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_CORE, &orig))
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_CORE, &orig) })
	want := orig
	want.Cur = orig.Max
	if want.Cur == 0 {
		t.Skip("hard RLIMIT_CORE is 0 here: nothing to restore to")
	}
	if want.Cur > 1<<30 && want.Cur != unix.RLIM_INFINITY {
		want.Cur = 1 << 30
	}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_CORE, &want))
	d0, c0, err := Current()
	require.NoError(t, err)
	require.Equal(t, 1, d0, "a normal process starts dumpable")

	s, err := Suppress()
	require.NoError(t, err)
	d, c, err := Current()
	require.NoError(t, err)
	assert.Equal(t, 0, d)
	assert.Equal(t, uint64(0), c)

	require.NoError(t, s.Restore())
	d, c, err = Current()
	require.NoError(t, err)
	assert.Equal(t, d0, d)
	assert.Equal(t, c0, c)
	var now unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_CORE, &now))
	assert.Equal(t, want, now, "soft and hard limits both back as found")
}
