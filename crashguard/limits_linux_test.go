//go:build cgo && linux

package crashguard

import (
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCStackOverflowOnForeignThreadIsAKnownLimit pins down a documented
// limit (README "Known limits"): C recursion that overflows the stack of a
// thread Go did not create dies by SIGSEGV exactly as without crashguard,
// and leaves no report, because that thread has no alternate signal stack
// for any handler to run on; the kernel forces the default action. If this
// test starts to fail because a report appears, the limit is gone: update
// the README.
func TestCStackOverflowOnForeignThreadIsAKnownLimit(t *testing.T) {
	bin := testprog(t, "cgocrash")
	args := []string{"-mode", "c-overflow-pthread", "-tmp", t.TempDir()}
	baseline := runChild(t, bin, t.TempDir(), nil, args...)
	dir := t.TempDir()
	got := runChild(t, bin, dir, nil, append(args, "-crashguard")...)
	require.Contains(t, got.stdout, "layers=crash-output+signal-chain+flight-recorder", got.stderr)
	assert.Equal(t, syscall.SIGSEGV, baseline.signal)
	assert.Equal(t, baseline.signal, got.signal)
	assert.Equal(t, baseline.exit, got.exit)
	// cgocrash prints its function addresses from a map: compare as sets.
	assert.ElementsMatch(t, strings.Split(baseline.stderr, "\n"), strings.Split(got.stderr, "\n"))

	pending, err := newTestGuard(t, dir, "").Pending()
	require.NoError(t, err)
	assert.Empty(t, pending, "no handler can run: nothing recorded, nothing invented")
}
