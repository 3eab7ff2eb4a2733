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

// modulePath is where the test programs live, by import path, so a caller in
// any package builds them without knowing its own depth in the tree.
const modulePath = "github.com/crashguard/crashguard-go/testprogs/"

// Build builds testprogs/<name> into dir with cgo on or off and returns the
// binary's path. Cgo matters for more than the native layer: Go's deadlock
// detector never fires in a binary linked with cgo, and net (which sentry-go
// imports) links cgo by default.
func Build(ctx context.Context, name, dir string, cgo bool) (string, error) {
	bin := filepath.Join(dir, name)
	env := "CGO_ENABLED=0"
	if cgo {
		bin += "-cgo"
		env = "CGO_ENABLED=1"
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, modulePath+name)
	cmd.Env = append(os.Environ(), env)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build testprogs/%s (%s): %v\n%s", name, env, err, out)
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
