//go:build cgo && (linux || darwin)

package native

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSymbols are the symbols of the test code (internal/native/nativetest:
// hooks.c, layout.c, cfi_code.c) and of the test hooks the package itself
// once held (cg_test_set_handler_fault and g_test_fault, g_bad_ptr checked
// by the signal handler on every fault, cg_merge_signal_into_mach).
var testSymbols = []string{
	"cg_layout_field",
	"cg_test_unwind_here", "cg_test_c_function", "cg_test_unwind", "cg_test_code_addr",
	"cg_test_safe_read", "cg_test_write_record", "cg_test_merge_signal_into_mach",
	"cg_test_break_recorder", "cg_test_count_entries", "counting_handler", "g_counted_old",
	"cg_test_install_foreign", "cg_test_foreign_calls",
	"foreign_handler", "g_foreign_old", "g_foreign_calls",
	"cg_test_cfi_addrs", "cg_testcfi_leaf", "cg_testcfi_mid", "cg_testscan_leaf",
	"cg_test_set_handler_fault", "g_test_fault", "g_bad_ptr", "cg_merge_signal_into_mach",
}

// testSymbolParts are parts of a name no shipped symbol has: the test
// packages' Go symbols and cgo wrappers, and the test C's prefixes.
var testSymbolParts = []string{"internal/native/nativetest.", "internal/native/machsim.", "cg_test", "machsim_"}

// A program that uses crashguard, built as a user builds it (cgo, no tags),
// links none of the test code: go tool nm lists none of its symbols, and
// does list the handler's.
func TestNoTestCodeInPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/usage")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "usage")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/crashguard/crashguard-go/examples/usage")
	build.Env = append(build.Environ(), "CGO_ENABLED=1")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(goTool, "tool", "nm", bin).Output()
	require.NoError(t, err)

	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			// Mach-O names C symbols with a leading underscore.
			names[strings.TrimPrefix(f[len(f)-1], "_")] = true
		}
	}
	for _, s := range []string{"cg_handler", "cg_signals_install", "cg_unwind", "cg_record_claim"} {
		require.True(t, names[s], "%s: the native layer is not in the program; the check would prove nothing", s)
	}
	for _, s := range testSymbols {
		assert.False(t, names[s], "test symbol %s is in a user's program", s)
	}
	for name := range names {
		for _, part := range testSymbolParts {
			assert.NotContains(t, name, part, "test code in a user's program")
		}
	}
}
