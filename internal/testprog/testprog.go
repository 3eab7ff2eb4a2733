// Package testprog builds and prepares the programs under testprogs/ for the
// tests and benchmarks that run them as children. Test support only: no
// production code imports it.
package testprog

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is the module's import path; modulePath is where the test programs
// live, so a caller in any package builds them without knowing its own depth
// in the tree.
const (
	Module     = "github.com/crashguard/crashguard-go"
	modulePath = Module + "/testprogs/"
)

// Build builds testprogs/<name> into dir with cgo on or off and returns the
// binary's path. Cgo matters for more than the native layer: Go's deadlock
// detector never fires in a binary linked with cgo, and net (which sentry-go
// imports) links cgo by default.
func Build(ctx context.Context, name, dir string, cgo bool) (string, error) {
	return BuildPackage(ctx, modulePath+name, dir, cgo)
}

// BuildPackage builds the main package pkg (an import path in this module,
// such as an example) into dir, named after its last element, with cgo on
// or off, and returns the binary's path.
func BuildPackage(ctx context.Context, pkg, dir string, cgo bool) (string, error) {
	name := filepath.Base(pkg)
	bin := filepath.Join(dir, name)
	env := "CGO_ENABLED=0"
	if cgo {
		bin += "-cgo"
		env = "CGO_ENABLED=1"
	}
	// No VCS stamp: a child's release (and so whether it is a Release
	// Health session, and what it posts) comes from the test's environment,
	// not from whether the checkout is a git clone.
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), env)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s (%s): %v\n%s", pkg, env, err, out)
	}
	return bin, nil
}

// CleanEnv is this process's environment without what would change a
// child's crash behaviour or send its reports to a real Sentry.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SENTRY_"), strings.HasPrefix(k, "CRASHGUARD_"),
			k == "GOTRACEBACK", k == "GODEBUG", k == "GOGC", k == "GOMEMLIMIT":
			continue
		}
		env = append(env, kv)
	}
	return env
}
