package crashguard

import (
	"errors"
	"runtime/debug"
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
)

const testDSN = "https://key@o0.ingest.sentry.io/1"

// testEnv is an environment of the given variables, on host "host1", for
// /opt/app/bin/myapp run by uid 1000, with a user cache dir only under a
// HOME, and build information when bi is not nil.
func testEnv(vars map[string]string, bi *debug.BuildInfo) env {
	return env{
		getenv:     func(k string) string { return vars[k] },
		hostname:   func() (string, error) { return "host1", nil },
		executable: func() (string, error) { return "/opt/app/bin/myapp", nil },
		userCacheDir: func() (string, error) {
			if h := vars["HOME"]; h != "" {
				return h + "/.cache", nil
			}
			return "", errors.New("neither $XDG_CACHE_HOME nor $HOME are defined")
		},
		tempDir:   func() string { return "/tmp" },
		euid:      1000,
		buildInfo: func() (*debug.BuildInfo, bool) { return bi, bi != nil },
	}
}

func TestResolveSentryOptions(t *testing.T) {
	cases := []struct {
		name string
		opts sentry.ClientOptions
		vars map[string]string
		// want
		dsn, environment, serverName string
		dsnErr                       bool
	}{
		{name: "nothing set", serverName: "host1"},
		{name: "options", opts: sentry.ClientOptions{Dsn: testDSN, Environment: "prod", ServerName: "web-1"},
			vars: map[string]string{"SENTRY_DSN": "https://other@o0.ingest.sentry.io/2", "SENTRY_ENVIRONMENT": "staging"},
			dsn:  testDSN, environment: "prod", serverName: "web-1"},
		{name: "environment fallbacks", vars: map[string]string{"SENTRY_DSN": testDSN, "SENTRY_ENVIRONMENT": "staging"},
			dsn: testDSN, environment: "staging", serverName: "host1"},
		{name: "invalid DSN", opts: sentry.ClientOptions{Dsn: "::not a dsn::"}, dsnErr: true, serverName: "host1"},
		{name: "invalid DSN from the environment", vars: map[string]string{"SENTRY_DSN": "http://"}, dsnErr: true, serverName: "host1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := resolveIn(Options{Sentry: c.opts}, testEnv(c.vars, nil))
			assert.Equal(t, c.dsn, s.dsn)
			if c.dsnErr {
				assert.ErrorIs(t, s.dsnErr, ErrInvalidDSN)
			} else {
				assert.NoError(t, s.dsnErr)
			}
			assert.Equal(t, c.environment, s.environment)
			assert.Equal(t, c.serverName, s.serverName)
			assert.Equal(t, "host1", s.hostname)
			assert.NotNil(t, s.logger, "a nil Logger is a silent one")
		})
	}
}

func TestDefaultRelease(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"}}}
	tagged := &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.2.3"}}
	devel := &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "(devel)"}}
	cases := []struct {
		name    string
		opt     string
		vars    map[string]string
		bi      *debug.BuildInfo
		release string
	}{
		{name: "option wins", opt: "app@1", vars: map[string]string{"SENTRY_RELEASE": "env"}, bi: vcs, release: "app@1"},
		{name: "SENTRY_RELEASE", vars: map[string]string{"SENTRY_RELEASE": "env", "GITHUB_SHA": "gh"}, bi: vcs, release: "env"},
		{name: "CI variables in sentry-go's order", vars: map[string]string{"GITHUB_SHA": "gh", "CIRCLE_SHA1": "circle"}, release: "circle"},
		{name: "last CI variable", vars: map[string]string{"ZEIT_BITBUCKET_COMMIT_SHA": "zeit"}, release: "zeit"},
		{name: "VCS revision stamped into the binary", bi: vcs, release: "abc123"},
		{name: "module version", bi: tagged, release: "example.com/app@v1.2.3"},
		{name: "devel build", bi: devel, release: ""},
		{name: "no build information", release: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := resolveIn(Options{Sentry: sentry.ClientOptions{Release: c.opt}}, testEnv(c.vars, c.bi))
			assert.Equal(t, c.release, s.release)
		})
	}
}

func TestCandidateDirs(t *testing.T) {
	const fallback = "/tmp/crashguard-1000/myapp"
	cases := []struct {
		name string
		dir  string
		vars map[string]string
		want []string
	}{
		{name: "Dir", dir: "/srv/crash", vars: map[string]string{"CRASHGUARD_DIR": "/env", "HOME": "/home/u"},
			want: []string{"/srv/crash", fallback}},
		{name: "CRASHGUARD_DIR", vars: map[string]string{"CRASHGUARD_DIR": "/env", "HOME": "/home/u"},
			want: []string{"/env", fallback}},
		{name: "user cache dir", vars: map[string]string{"HOME": "/home/u"},
			want: []string{"/home/u/.cache/crashguard/myapp", fallback}},
		{name: "no cache dir (systemd, env -i)", want: []string{fallback}},
		{name: "the fallback itself", dir: fallback, want: []string{fallback}},
		{name: "cleaned", dir: "/srv//crash/", want: []string{"/srv/crash", fallback}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := resolveIn(Options{Dir: c.dir}, testEnv(c.vars, nil))
			assert.Equal(t, c.want, s.dirs)
			assert.Equal(t, c.want[0], s.dir)
		})
	}
}

func TestEffectiveTraceback(t *testing.T) {
	cases := []struct{ env, opt, want string }{
		{"", "", "single"},
		{"", "all", "all"},
		{"", "SYSTEM", "single"}, // the runtime is case-sensitive: an unknown option changes nothing
		{"all", "", "all"},
		{"all", "single", "all"},  // an option cannot lower GOTRACEBACK
		{"crash", "all", "crash"}, // nor below crash
		{"single", "crash", "crash"},
		{"none", "all", "all"},
		{"0", "", "0"},
		{"2", "all", "2"}, // 2 is system
		{"1", "system", "system"},
		{"bogus", "", "none"}, // the runtime's default branch: level 0, no goroutine printed
		{"ALL", "", "none"},
		{"bogus", "all", "all"},
		{"single", "bogus", "single"},
		{"wer", "crash", "wer"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, effectiveTraceback(c.env, c.opt), "GOTRACEBACK=%q, Traceback %q", c.env, c.opt)
		s := resolveIn(Options{Traceback: c.opt}, testEnv(map[string]string{"GOTRACEBACK": c.env}, nil))
		assert.Equal(t, c.want, s.traceback)
	}
}
