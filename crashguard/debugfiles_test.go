//go:build linux

package crashguard

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentryevent"
)

// sentryCLIVersion is the Sentry CLI the debug file tests check against,
// installed from npm (@sentry/cli-linux-x64 ships the binary itself).
const sentryCLIVersion = "3.8.0"

var sentryCLIOnce struct {
	sync.Once
	path, skip string
}

// sentryCLI returns the path of Sentry's CLI, installing it from npm once
// into a cache outside the repository (like .ci/darwin-build.sh does for
// zig): ${XDG_CACHE_HOME:-$HOME/.cache}/crashguard-ci/sentry-cli, or
// $CRASHGUARD_SENTRY_CLI when set. A cached install costs one
// "sentry-cli --version". It skips the test, saying why, when the CLI cannot
// be had (no npm, npm unreachable, not linux/amd64).
func sentryCLI(t *testing.T) string {
	t.Helper()
	sentryCLIOnce.Do(func() {
		sentryCLIOnce.path, sentryCLIOnce.skip = installSentryCLI()
	})
	if sentryCLIOnce.skip != "" {
		t.Skip(sentryCLIOnce.skip)
	}
	return sentryCLIOnce.path
}

func installSentryCLI() (path, skip string) {
	if p := os.Getenv("CRASHGUARD_SENTRY_CLI"); p != "" {
		return p, ""
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", "sentry-cli: only @sentry/cli-linux-x64 is installed by this test, not for " + runtime.GOOS + "/" + runtime.GOARCH
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "sentry-cli: no cache directory: " + err.Error()
		}
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "crashguard-ci", "sentry-cli")
	rel := filepath.Join("node_modules", "@sentry", "cli-linux-x64", "bin", "sentry-cli")
	bin := filepath.Join(dir, rel)
	if cliVersion(bin) == sentryCLIVersion {
		return bin, ""
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", "sentry-cli: npm not found, cannot install @sentry/cli-linux-x64@" + sentryCLIVersion
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", "sentry-cli: " + err.Error()
	}
	// Install beside the cache entry and rename into place, so that two
	// test processes never see a half-installed CLI.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "sentry-cli-install-")
	if err != nil {
		return "", "sentry-cli: " + err.Error()
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", tmp,
		"@sentry/cli-linux-x64@"+sentryCLIVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("sentry-cli: npm unreachable or install failed (npm install @sentry/cli-linux-x64@%s: %v):\n%s",
			sentryCLIVersion, err, bytes.TrimSpace(out))
	}
	if v := cliVersion(filepath.Join(tmp, rel)); v != sentryCLIVersion {
		return "", fmt.Sprintf("sentry-cli: npm installed %q, want %s", v, sentryCLIVersion)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil && cliVersion(bin) != sentryCLIVersion {
		return "", "sentry-cli: " + err.Error()
	}
	return bin, ""
}

// cliVersion is what "sentry-cli --version" says ("3.8.0"), "" if it
// cannot run.
func cliVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "sentry-cli ")
}

// cliCheck is the part of "sentry-cli debug-files check --json" compared.
type cliCheck struct {
	Type     string `json:"type"`
	Variants []struct {
		DebugID string `json:"debug_id"`
		CodeID  string `json:"code_id"`
		Arch    string `json:"arch"`
	} `json:"variants"`
	Features string `json:"features"`
	Usable   bool   `json:"is_usable"`
}

func debugFilesCheck(t *testing.T, cli, file string) cliCheck {
	t.Helper()
	// It exits 1 for a file it finds unusable, still printing the check.
	out, err := exec.Command(cli, "debug-files", "check", "--json", file).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	var c cliCheck
	if jerr := json.Unmarshal(out, &c); jerr != nil {
		t.Fatalf("sentry-cli debug-files check %s: %v\n%s%s", file, err, out, stderrOf(ee))
	}
	require.Len(t, c.Variants, 1, "%s", out)
	return c
}

// TestDebugFilesCheckAgreesWithDebugMeta: for each test program, Sentry's
// own CLI computes the same debug id and code id for every image file of
// the event's debug_meta as crashguard sent, so the files a user uploads
// with "sentry-cli debug-files upload" are the ones Sentry looks for
// (issue 10, item 5).
func TestDebugFilesCheckAgreesWithDebugMeta(t *testing.T) {
	cli := sentryCLI(t)
	lib := programLib(t)
	crashes := []struct {
		name, prog string
		env        []string
		args       []string
	}{
		{"gocrash nil-deref", "gocrash", nil, []string{"nil-deref"}},
		{"cgocrash c-null-pthread", "cgocrash", nil, []string{"-mode", "c-null-pthread", "-crashguard"}},
		{"cgocrash c-null-gothread", "cgocrash", nil, []string{"-mode", "c-null-gothread", "-crashguard"}},
		{"cgocrash c-null-dlopen", "cgocrash", []string{"CGOCRASH_LIB=" + lib}, []string{"-mode", "c-null-dlopen", "-crashguard"}},
	}
	for _, c := range crashes {
		t.Run(c.name, func(t *testing.T) {
			bin := testprog(t, c.prog)
			ev, _ := crashEvent(t, bin, c.env, c.args...)
			images, _ := dig(ev, "debug_meta")["images"].([]any)
			require.NotEmpty(t, images, "a cgo program's event names its images")
			checked, sawMain, sawLib := 0, false, false
			for i := range images {
				img := dig(images, i)
				file, _ := img["code_file"].(string)
				if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
					continue // the vdso has no file
				}
				got := debugFilesCheck(t, cli, file)
				assert.Equal(t, "elf", img["type"])
				assert.Equal(t, got.Variants[0].DebugID, img["debug_id"], "debug id of %s", file)
				assert.Equal(t, got.Variants[0].CodeID, img["code_id"], "code id of %s", file)
				assert.Equal(t, got.Variants[0].Arch, img["arch"], "arch of %s", file)
				assert.True(t, got.Usable, "sentry-cli finds %s usable", file)
				checked++
				sawLib = sawLib || file == lib
				if file == bin {
					sawMain = true
					assert.Equal(t, []string{bin}, debugFilesFind(t, cli, img["debug_id"].(string), filepath.Dir(bin)),
						"sentry-cli finds the executable by the event's debug id, as its upload command searches")
				}
			}
			assert.True(t, sawMain, "the executable is among the checked images")
			assert.GreaterOrEqual(t, checked, 2, "the executable and the C library at least")
			if strings.Contains(c.name, "dlopen") {
				assert.True(t, sawLib, "the program's own library loaded at run time is among the images")
			}
		})
	}
}

// TestDebugFilesCheckAgreesOnGoBuilds: a CGO_ENABLED=0 build has no native
// layer and so no debug_meta, but its debug id as crashguard computes it
// from the GNU build-id note (which Go's own linker writes) is sentry-cli's
// too; stripping after the build keeps the note and the id, so a user
// uploads the unstripped file and ships the stripped one.
func TestDebugFilesCheckAgreesOnGoBuilds(t *testing.T) {
	cli := sentryCLI(t)
	nocgo := testprogCgo(t, "gocrash", false)
	stripped := filepath.Join(t.TempDir(), "gocrash-stripped")
	b, err := os.ReadFile(nocgo)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stripped, b, 0o755))
	strip, err := exec.LookPath("strip")
	if err == nil {
		out, err := exec.Command(strip, stripped).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	for _, file := range []string{nocgo, testprog(t, "gocrash"), stripped} {
		if file == stripped && strip == "" {
			continue
		}
		id := gnuBuildID(t, file)
		debugID, err := sentryevent.DebugIDFromBuildID(id)
		require.NoError(t, err)
		got := debugFilesCheck(t, cli, file)
		assert.Equal(t, debugID, got.Variants[0].DebugID, "debug id of %s", file)
		assert.Equal(t, id, got.Variants[0].CodeID, "code id of %s", file)
		if file == stripped {
			assert.Equal(t, gnuBuildID(t, nocgo), id, "strip keeps the build-id")
			assert.False(t, got.Usable, "a stripped pure-Go file has nothing to symbolicate with: upload the unstripped one")
		} else {
			assert.True(t, got.Usable, "%s is usable: %+v", file, got)
		}
	}
}

// debugFilesFind returns the files "sentry-cli debug-files find" finds for
// a debug id under dir (nowhere else).
func debugFilesFind(t *testing.T, cli, id, dir string) []string {
	t.Helper()
	out, err := exec.Command(cli, "debug-files", "find", "--json", "--no-well-known", "--no-cwd", "--path", dir, id).Output()
	require.NoError(t, err, "sentry-cli debug-files find %s --path %s: %s", id, dir, out)
	var found []struct {
		ID   string `json:"id"`
		Path string `json:"path"`
	}
	require.NoError(t, json.Unmarshal(out, &found), "%s", out)
	var paths []string
	for _, f := range found {
		assert.Equal(t, id, f.ID)
		paths = append(paths, f.Path)
	}
	return paths
}

func stderrOf(ee *exec.ExitError) []byte {
	if ee == nil {
		return nil
	}
	return ee.Stderr
}

// programLibSource is a C library of the program's own for cgocrash's
// c-null-dlopen mode: cglib_fault calls cglib_inner, which writes to 0x78.
const programLibSource = `__attribute__((noinline)) void cglib_inner(volatile int *p) { *p = 3; }
void cglib_fault(void) { cglib_inner((volatile int *)0x78); __asm__ volatile(""); }
`

// programLib builds programLibSource into a shared library (with a GNU
// build-id, as the toolchain's default) in a directory of its own, once
// per test, and returns its path.
func programLib(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "cglib.c")
	require.NoError(t, os.WriteFile(src, []byte(programLibSource), 0o644))
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	lib := filepath.Join(dir, "libcglib.so")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer", "-Wl,--build-id",
		"-o", lib, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return lib
}

// gnuBuildID reads the NT_GNU_BUILD_ID note of an ELF file, as hex.
func gnuBuildID(t *testing.T, file string) string {
	t.Helper()
	f, err := elf.Open(file)
	require.NoError(t, err)
	defer f.Close()
	sec := f.Section(".note.gnu.build-id")
	require.NotNil(t, sec, "%s has a GNU build-id note", file)
	data, err := sec.Data()
	require.NoError(t, err)
	// namesz, descsz, type, "GNU\0", desc
	require.Greater(t, len(data), 16)
	namesz := f.ByteOrder.Uint32(data[0:])
	descsz := f.ByteOrder.Uint32(data[4:])
	off := 12 + (namesz+3)&^3
	require.LessOrEqual(t, int(off+descsz), len(data))
	return hex.EncodeToString(data[off : off+descsz])
}
