package signals

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNumber(t *testing.T) {
	assert.Equal(t, 11, Number("linux", "SIGSEGV"))
	assert.Equal(t, 11, Number("darwin", "SIGSEGV"))
	assert.Equal(t, 7, Number("linux", "SIGBUS"))
	assert.Equal(t, 10, Number("darwin", "SIGBUS"))
	assert.Equal(t, 31, Number("linux", "SIGSYS"))
	assert.Equal(t, 12, Number("darwin", "SIGSYS"))
	assert.Equal(t, 6, Number("ios", "SIGABRT"))
	assert.Equal(t, 7, Number("android", "SIGBUS"))
	assert.Zero(t, Number("linux", "SIGEMT"))
	assert.Zero(t, Number("plan9", "SIGSEGV"))
	assert.Zero(t, Number("windows", "SIGSEGV"))
	assert.Zero(t, Number("linux", ""))
}

func TestName(t *testing.T) {
	assert.Equal(t, "SIGBUS", Name("darwin", 10))
	assert.Equal(t, "SIGUSR1", Name("linux", 10))
	assert.Equal(t, "SIGBUS", Name("linux", 7))
	assert.Equal(t, "SIGEMT", Name("darwin", 7))
	assert.Equal(t, "SIGSYS", Name("darwin", 12))
	assert.Equal(t, "SIGSYS", Name("ios", 12))
	assert.Equal(t, "SIGSYS", Name("android", 31))
	assert.Equal(t, "", Name("linux", 0))
	assert.Equal(t, "", Name("linux", 34), "real-time signals have no name")
	assert.Equal(t, "", Name("linux", -1))
	assert.Equal(t, "", Name("freebsd", 11))
}

func TestTablesRoundTrip(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		seen := map[string]bool{}
		for n := 1; n <= 31; n++ {
			name := Name(goos, n)
			if assert.NotEmpty(t, name, "%s %d", goos, n) {
				assert.False(t, seen[name], "%s: %s twice", goos, name)
				seen[name] = true
				assert.Equal(t, n, Number(goos, name), "%s %s", goos, name)
				assert.NotEmpty(t, RuntimeDescription(goos, name), "%s %s", goos, name)
			}
		}
	}
}

func TestCodeName(t *testing.T) {
	for _, tt := range []struct {
		goos      string
		sig, code int
		want      string
	}{
		{"linux", 11, 1, "SEGV_MAPERR"},
		{"linux", 11, 2, "SEGV_ACCERR"},
		{"darwin", 11, 2, "SEGV_ACCERR"},
		{"linux", 7, 2, "BUS_ADRERR"},
		{"darwin", 10, 2, "BUS_ADRERR"},
		{"darwin", 7, 2, ""}, // SIGEMT
		{"linux", 8, 1, "FPE_INTDIV"},
		{"darwin", 8, 7, "FPE_INTDIV"},
		{"darwin", 8, 1, "FPE_FLTDIV"},
		{"linux", 8, 14, "FPE_FLTUNK"},
		{"linux", 8, 10, ""},
		{"linux", 4, 2, "ILL_ILLOPN"},
		{"darwin", 4, 2, "ILL_ILLTRP"},
		{"ios", 4, 4, "ILL_ILLOPN"},
		{"linux", 5, 1, "TRAP_BRKPT"},
		{"linux", 31, 1, "SYS_SECCOMP"},
		{"darwin", 12, 1, ""},
		{"linux", 6, -6, "SI_TKILL"},
		{"linux", 6, 0, "SI_USER"},
		{"linux", 11, 0x80, "SI_KERNEL"},
		{"android", 6, -6, "SI_TKILL"},
		{"linux", 0, -6, "SI_TKILL"},
		{"darwin", 6, 0x10001, "SI_USER"},
		{"darwin", 6, 0, ""},
		{"darwin", 6, -6, ""},
		{"linux", 6, 0x10001, ""},
		{"linux", 11, 99, ""},
		{"linux", 11, -99, ""},
		{"linux", 10, 1, ""}, // SIGUSR1 has no codes of its own
		{"linux", 99, 1, ""},
		{"linux", -1, 1, ""},
		{"windows", 11, 1, ""},
	} {
		assert.Equal(t, tt.want, CodeName(tt.goos, tt.sig, tt.code), "%s sig %d code %d", tt.goos, tt.sig, tt.code)
	}
}

func TestRuntimeDescription(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		for name, want := range map[string]string{
			"SIGSEGV": "segmentation violation", "SIGBUS": "bus error", "SIGFPE": "floating-point exception",
			"SIGILL": "illegal instruction", "SIGTRAP": "trace trap", "SIGABRT": "abort", "SIGSYS": "bad system call",
			"SIGQUIT": "quit",
		} {
			assert.Equal(t, want, RuntimeDescription(goos, name), "%s %s", goos, name)
		}
	}
	assert.Equal(t, "stop, unblockable", RuntimeDescription("linux", "SIGSTOP"))
	assert.Equal(t, "stop", RuntimeDescription("darwin", "SIGSTOP"))
	assert.Equal(t, "emulate instruction executed", RuntimeDescription("ios", "SIGEMT"))
	assert.Equal(t, "", RuntimeDescription("linux", "SIGEMT"))
	assert.Equal(t, "", RuntimeDescription("linux", ""))
	assert.Equal(t, "", RuntimeDescription("windows", "SIGSEGV"))
}

func TestNoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = Number("plan9", "SIGSEGV")
		_ = Name("linux", 11)
		_ = CodeName("darwin", 10, 2)
		_ = RuntimeDescription("linux", "SIGBUS")
	})
	assert.Zero(t, allocs)
}
