//go:build cgo && linux

package crashguard

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

func TestMonitorDeliversACFaultOnAForeignThread(t *testing.T) {
	bin := testprog(t, "cgocrash")
	recv := sentrytest.New()
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	res := runChild(t, bin, dir, []string{"CGOCRASH_MONITOR=1", "SENTRY_DSN=" + recv.DSN()},
		"-mode", "c-null-pthread", "-tmp", t.TempDir(), "-crashguard")
	require.Equal(t, syscall.SIGSEGV, res.signal, res.stderr)
	require.Contains(t, res.stdout, "cgocrash: monitor up")
	id := runIDOf(t, res.stdout)
	ctx, cancel := context.WithTimeout(context.Background(), monitorDeadline)
	defer cancel()
	evs, err := recv.WaitEvents(ctx, 1)
	require.NoError(t, err, "no event without a later start")
	assert.Equal(t, "SIGSEGV", mainException(evs[0].Event)["type"])
	waitMonitorGone(t, id)
}
