//go:build unix

package crashguard

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxInitBytes caps what one of crashguard's packages may allocate in its
// package initialization: every program that imports crashguard pays for
// it before main, Install or not. Allocation is the deterministic proxy for
// work done there (a regression that built the CRC-32C tables at init, 0.44
// ms, allocated 9,216 bytes); the clock is logged, never asserted.
const maxInitBytes = 4 << 10

var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, (\S+) ms clock, (\d+) bytes, (\d+) allocs$`)

func TestPackageInitsAreCheap(t *testing.T) {
	bin := testprog(t, "startcost")
	res := runChild(t, bin, t.TempDir(), []string{"GODEBUG=inittrace=1"}, "-variant", "bare")
	require.Equal(t, 0, res.exit, res.stderr)
	seen := 0
	for _, line := range strings.Split(res.stderr, "\n") {
		m := initLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || !strings.HasPrefix(m[1], "github.com/crashguard/crashguard-go/") {
			continue
		}
		seen++
		bytes, _ := strconv.Atoi(m[3])
		t.Logf("%s: %s ms, %d bytes, %s allocs", m[1], m[2], bytes, m[4])
		assert.LessOrEqual(t, bytes, maxInitBytes, "%s allocates %d bytes at package init: make it lazy", m[1], bytes)
	}
	assert.Greater(t, seen, 3, "inittrace lines for crashguard's packages:\n%s", res.stderr)
}
