//go:build cgo && linux

package crashguard

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inAppFunctions lists the in-app frames as Sentry groups them: module and
// function for Go frames, function for native ones, oldest first.
func inAppFunctions(frames []map[string]any) []string {
	var out []string
	for _, f := range frames {
		if f["in_app"] != true {
			continue
		}
		name, _ := f["function"].(string)
		if m, _ := f["module"].(string); m != "" {
			name = m + "." + name
		}
		out = append(out, name)
	}
	return out
}

// TestCCrashGroupsByItsOwnCFunction: a C fault in the program's own C code
// has that function as its innermost in-app frame, the system's frames
// (libc, ld.so, the vdso), the Go runtime and cgo's glue are out of app, and
// two different C functions give different in-app frame lists, so Sentry
// groups them apart (issue 10, item 2).
func TestCCrashGroupsByItsOwnCFunction(t *testing.T) {
	bin := testprog(t, "cgocrash")
	lib := programLib(t)
	tests := []struct {
		mode string
		env  []string
		// inApp is the exact in-app list for a crash on a pthread; for a Go
		// thread, its end.
		inApp  []string
		suffix bool
	}{
		{mode: "c-null-pthread", inApp: []string{"fault_thread", "cgc_fault_outer", "cgc_fault_inner"}},
		{mode: "c-null-pthread-other", inApp: []string{"other_thread", "cgc_other_fault"}},
		{mode: "c-abort-pthread", inApp: []string{"abort_thread", "cgc_abort"}},
		{mode: "c-null-gothread", inApp: []string{"main.cNullWrite", "cgc_fault_outer", "cgc_fault_inner"}, suffix: true},
		// A library of the program's own (not in a system location),
		// loaded at run time and made known by native.RefreshImages.
		{mode: "c-null-dlopen", env: []string{"CGOCRASH_LIB=" + lib}, inApp: []string{"lib_thread", "cglib_fault", "cglib_inner"}},
	}
	lists := map[string][]string{}
	for _, tc := range tests {
		ev, _ := crashEvent(t, bin, tc.env, "-mode", tc.mode, "-crashguard")
		frames := exceptionFrames(ev)
		require.NotEmpty(t, frames)
		got := inAppFunctions(frames)
		lists[tc.mode] = got
		if tc.suffix {
			require.GreaterOrEqual(t, len(got), len(tc.inApp), "%s: %v", tc.mode, got)
			assert.Equal(t, tc.inApp, got[len(got)-len(tc.inApp):], "%s: in-app frames end in the C code", tc.mode)
		} else {
			assert.Equal(t, tc.inApp, got, "%s: exactly the program's own C frames are in-app", tc.mode)
		}
		for _, f := range frames {
			fn, _ := f["function"].(string)
			mod, _ := f["module"].(string)
			pkg, _ := f["package"].(string)
			glue := strings.HasPrefix(fn, "_cgo_") || strings.HasPrefix(fn, "_Cfunc_") || strings.HasPrefix(fn, "x_cgo_") ||
				strings.HasPrefix(fn, "crosscall") || mod == "runtime"
			system := strings.HasPrefix(pkg, "/lib") || strings.HasPrefix(pkg, "/usr/lib") || strings.HasPrefix(pkg, "linux-vdso")
			if glue || system {
				assert.NotEqual(t, true, f["in_app"], "%s: %s %s %s is not in-app", tc.mode, mod, fn, pkg)
			}
			if f["platform"] == "native" {
				assert.NotEmpty(t, pkg, "%s: a native frame names its image", tc.mode)
				assert.NotContains(t, fn, ".", "%s: Go functions found by the native walk are Go frames, not native ones", tc.mode)
			}
		}
	}
	assert.NotEqual(t, lists["c-null-pthread"], lists["c-null-pthread-other"],
		"two different C functions faulting give different in-app frame lists")
}
