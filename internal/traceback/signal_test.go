package traceback

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func TestParseSignalLine(t *testing.T) {
	sig, ok := parseSignalLine("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2f1c]", "linux")
	require.True(t, ok)
	assert.Equal(t, &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 1, PC: 0x4a2f1c}, sig)

	sig, ok = parseSignalLine("[signal SIGBUS: bus error code=0x2 addr=0x1000000 pc=0x10]", "darwin")
	require.True(t, ok)
	assert.Equal(t, &report.Signal{Name: "SIGBUS", Number: 10, Description: "bus error", Code: 2, Addr: 0x1000000, PC: 0x10}, sig)

	// A signal without a name in the runtime's table.
	sig, ok = parseSignalLine("[signal 0xb code=0x80 addr=0x0 pc=0x1]", "linux")
	require.True(t, ok)
	assert.Equal(t, &report.Signal{Name: "SIGSEGV", Number: 11, Code: 0x80, PC: 1}, sig)

	for _, bad := range []string{"[signal SIGSEGV]", "[signal ", "signal SIGSEGV code=0x1]", "[signal SIGSEGV: x code=0x1"} {
		_, ok := parseSignalLine(bad, "linux")
		assert.False(t, ok, bad)
	}
}

func TestParseFatalSignal(t *testing.T) {
	sig, ok := parseFatalSignal("SIGSEGV: segmentation violation", "PC=0x500fa0 m=0 sigcode=1 addr=0x0", "linux")
	require.True(t, ok)
	assert.Equal(t, &report.Signal{Name: "SIGSEGV", Number: 11, Description: "segmentation violation", Code: 1, PC: 0x500fa0}, sig)

	// SI_TKILL (-6) is printed as an unsigned number.
	sig, ok = parseFatalSignal("SIGABRT: abort", "PC=0x7fa0575b3eec m=0 sigcode=18446744073709551610", "linux")
	require.True(t, ok)
	assert.Equal(t, uint64(0xfffffffffffffffa), sig.Code)
	assert.Equal(t, 6, sig.Number)

	sig, ok = parseFatalSignal("Signal 45", "PC=0x1 m=0 sigcode=0", "linux")
	require.True(t, ok)
	assert.Equal(t, 45, sig.Number)
	assert.Empty(t, sig.Name)

	for _, head := range []string{"panic: SIGSEGV: x", "SIG: x", "SIGsegv: x", "Signal x", ""} {
		_, ok := parseFatalSignal(head, "PC=0x1 m=0 sigcode=0", "linux")
		assert.False(t, ok, head)
	}
	_, ok = parseFatalSignal("SIGSEGV: segmentation violation", "m=0 sigcode=0", "linux")
	assert.False(t, ok)
}
