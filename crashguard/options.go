package crashguard

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/getsentry/sentry-go"
)

// Options configure Install. The zero value is valid.
type Options struct {
	// Sentry are sentry-go's own client options, so one value configures
	// both. Used, as sentry-go uses them:
	//   - Dsn, Release, Environment, with sentry-go's environment fallbacks
	//     (SENTRY_DSN, SENTRY_RELEASE and the CI variables it reads,
	//     SENTRY_ENVIRONMENT); an empty Dsn keeps reports on disk only.
	//   - Dist, ServerName (default the host name), Tags.
	//   - BeforeSend, with the crash event (an empty EventHint: there is no
	//     recovered value after death). Returning nil drops the report.
	//   - HTTPClient, else HTTPTransport, else HTTPSProxy / HTTPProxy (else
	//     the proxy environment) and CaCerts: the transport, in sentry-go's
	//     precedence.
	// Ignored, and why:
	//   - SampleRate, IgnoreErrors, IgnoreTransactions: a crash is fatal and
	//     happens once per run; sampling or filtering it away by message
	//     would lose exactly what crashguard is for (drop it in BeforeSend
	//     if you must).
	//   - Debug, DebugWriter: crashguard logs through Options.Logger (slog).
	//   - MaxBreadcrumbs, AttachStacktrace, EnableTracing, TracesSampleRate,
	//     TracesSampler, Integrations, BeforeSendTransaction and the other
	//     tracing and logging options: they shape events of a live process;
	//     a crash report is built after death. The scope the program sets
	//     through sentry-go (user, tags, contexts, breadcrumbs) does reach
	//     the crash event, snapshotted in the background from
	//     sentry.CurrentHub(); for exact breadcrumbs set
	//     crashguard.BeforeBreadcrumb in the program's own sentry.Init.
	//   - SendDefaultPII: crashguard adds no personal data of its own; a
	//     user the program set with SetUser is sent as set, as sentry-go
	//     does.
	//   - Transport: a sentry.Transport sends events of a live process;
	//     crashguard posts envelopes itself (gzip, with its own outcomes).
	Sentry sentry.ClientOptions
	// Dir holds the run files and the outbox. Empty means CRASHGUARD_DIR,
	// else os.UserCacheDir()/crashguard/<executable name>. It must be owned
	// by this user and not writable by others, and so must runs/ and
	// outbox/ inside it; crashguard creates them 0700 and follows no
	// symbolic link there. When it cannot be used (no cache dir, as under
	// systemd or env -i; read-only; full; unsafe), Install captures into
	// os.TempDir()/crashguard-<uid>/<executable name> instead, checked the
	// same way, and says so with ErrDirUnusable.
	Dir string
	// Logger receives crashguard's own diagnostics. Nil means silent.
	Logger *slog.Logger
	// Traceback raises the Go traceback level for the crash output, as
	// debug.SetTraceback does (case-sensitive, as the runtime reads it; an
	// unknown value is ignored with a warning) ("all" puts every goroutine in the report,
	// "system" adds runtime frames and pc= values). Empty keeps the
	// program's own GOTRACEBACK (default "single": only the crashing
	// goroutine). It can only raise the level, never lower what GOTRACEBACK
	// asks for.
	Traceback string
	// DisableNative turns off the native layer (signal chain, Mach
	// exception thread, flight recorder) even when cgo is available.
	DisableNative bool
	// SuppressOSCrashReports switches off the operating system's own crash
	// report once crashguard holds it: Linux core dumps (PR_SET_DUMPABLE=0
	// and RLIMIT_CORE=0), macOS Crash Reporter (see DarwinSuppression).
	// Default false: the OS behaves exactly as without crashguard.
	SuppressOSCrashReports bool
	// DarwinSuppression chooses how Crash Reporter is switched off on macOS.
	// The zero value is SuppressByExit.
	DarwinSuppression DarwinSuppression
	// HTTPClient sends envelopes; each post is bounded by 30s unless
	// Flush's context sets a deadline.
	//
	// Deprecated: set Sentry.HTTPClient (or Sentry.HTTPTransport,
	// HTTPSProxy, HTTPProxy, CaCerts), which crashguard honours as sentry-go
	// does. When set, this still wins over them.
	HTTPClient *http.Client
	// FlushTimeout bounds a Flush whose context has no deadline, so that a
	// deferred Flush cannot hold up the exit of a program whose Sentry
	// accepts connections and never answers. 0 means DefaultFlushTimeout;
	// a context deadline always wins. What is not delivered in time stays
	// in the outbox for the next Flush or start.
	FlushTimeout time.Duration
	// Monitor starts, right after Install returns, one helper process per
	// run that waits for this process to end and then at once collects and
	// delivers its crash, so that it reaches Sentry even if the program
	// never starts again. A clean end makes it remove the run's files.
	// The helper is this program's executable re-executed (or
	// MonitorExecutable): crashguard's init takes it over before the
	// program's main package is initialized, but packages initialized
	// before crashguard run their init functions again there. It runs in a
	// session of its own, ignores SIGINT/SIGTERM/SIGHUP/SIGQUIT, and gets
	// the DSN through a pipe, not its environment or argv. It sends with
	// Sentry.HTTPProxy/HTTPSProxy or the proxy environment; it cannot have
	// Go values of the program (BeforeSend, HTTPClient, HTTPTransport,
	// CaCerts): with any of them set it only collects, and the next start
	// sends through them. It does not start in a program that is PID 1 of
	// its container (it would die with it). A crash in the first
	// milliseconds after Install, before the monitor is up, is delivered
	// by the next start. Unix only.
	Monitor bool
	// MonitorExecutable is the program run as the monitor; empty means
	// this program itself. It must import crashguard (for example the
	// crashguard command in crashguard/cmd/crashguard).
	MonitorExecutable string
	// Outbox caps, so that a crash-looping service or a machine without
	// network cannot fill the disk: at most MaxReports reports (default 30,
	// sentry-native's cache_max_items), MaxOutboxBytes in all (default 64
	// MiB), none older than MaxReportAge (default 30 days). The oldest go
	// first, the newest is always kept, every removal is logged and the next
	// event says how many (contexts.crashguard.dropped_reports). Negative
	// means no cap.
	MaxReports     int
	MaxOutboxBytes int64
	MaxReportAge   time.Duration
	// Crash loops: within CrashLoopWindow (default 1 h), the first
	// CrashLoopFull (default 3) reports of the same crash (kind, release,
	// top in-app frames) are kept and sent in full; the rest are counted,
	// and the next event of that crash carries the count
	// (contexts.crashguard.folded_crashes). A negative window turns folding
	// off.
	CrashLoopWindow time.Duration
	CrashLoopFull   int
	// MonitorTimeout bounds what the monitor does once the program ended
	// (collect and deliver); 0 means 30 s. What is not delivered by then
	// waits in the outbox for the next start.
	MonitorTimeout time.Duration
	// DisableSessions turns off Release Health sessions. By default, with a
	// DSN and a release, each run is one session: started at Install,
	// ended after the process is gone by whoever finds its run (a later
	// start, the monitor, the crashguard command), "crashed" when it left
	// crash evidence, "exited" otherwise, and sent in batches as session
	// aggregates. Nothing is sent while the program runs. Unix only.
	DisableSessions bool
	// SessionDistinctID is the sessions' distinct id ("did"), which
	// Release Health counts as a user: for a program run on behalf of one
	// user, that user's id. Empty means a hash of the machine id on Linux
	// (/etc/machine-id; the id itself is never sent), else none.
	SessionDistinctID string
	// OmitCrashOutput leaves the raw Go crash output (crash.txt, the text
	// the runtime printed) out of the events sent: the event still carries
	// everything parsed from it (exception, goroutines, registers), and the
	// report on disk keeps it. For programs whose panic values or pointer
	// arguments must not leave the machine in any form beyond the parsed
	// one; BeforeSend can do the same per event.
	OmitCrashOutput bool
}

// DefaultFlushTimeout is the bound of a Flush whose context has no deadline:
// the 2 s that sentry-native waits at shutdown (shutdown_timeout) and that
// sentry-go's documentation passes to sentry.Flush.
const DefaultFlushTimeout = 2 * time.Second

// settings are Options resolved against the environment.
type settings struct {
	dsn    string
	dsnErr error
	// dir is where this Guard works; dirs are the places to try, in order:
	// the configured one, then the fallback under os.TempDir.
	dir         string
	dirs        []string
	release     string
	environment string
	serverName  string
	hostname    string
	traceback   string
	// executable is this program's path (os.Executable, else os.Args[0]),
	// read once: it names the directory and goes into the run's metadata.
	executable string
	logger     *slog.Logger
}

// env is what option resolution reads of the process and its environment:
// osEnv's are the real ones, a test gives its own.
type env struct {
	getenv       func(key string) string
	hostname     func() (string, error)
	executable   func() (string, error)
	userCacheDir func() (string, error)
	tempDir      func() string
	euid         int
	buildInfo    func() (*debug.BuildInfo, bool)
}

func osEnv() env {
	return env{
		getenv:   os.Getenv,
		hostname: os.Hostname,
		executable: func() (string, error) {
			if exe, err := os.Executable(); err == nil && exe != "" {
				return exe, nil
			}
			return os.Args[0], nil
		},
		userCacheDir: os.UserCacheDir,
		tempDir:      os.TempDir,
		euid:         os.Geteuid(),
		buildInfo:    debug.ReadBuildInfo,
	}
}

// resolve resolves o against this process's environment.
func resolve(o Options) settings { return resolveIn(o, osEnv()) }

func resolveIn(o Options, e env) settings {
	s := settings{logger: o.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.dsn = o.Sentry.Dsn
	if s.dsn == "" {
		s.dsn = e.getenv("SENTRY_DSN")
	}
	if s.dsn != "" {
		if _, err := sentry.NewDsn(s.dsn); err != nil {
			s.dsnErr = fmt.Errorf("%w: %v", ErrInvalidDSN, err)
			s.dsn = ""
		}
	}
	s.release = o.Sentry.Release
	if s.release == "" {
		s.release = defaultRelease(e)
	}
	s.environment = o.Sentry.Environment
	if s.environment == "" {
		s.environment = e.getenv("SENTRY_ENVIRONMENT")
	}
	s.hostname, _ = e.hostname()
	s.serverName = o.Sentry.ServerName
	if s.serverName == "" {
		s.serverName = s.hostname
	}
	s.executable, _ = e.executable()
	s.dirs = candidateDirs(o.Dir, s.executable, e)
	s.dir = s.dirs[0]
	s.traceback = effectiveTraceback(e.getenv("GOTRACEBACK"), o.Traceback)
	return s
}

// candidateDirs lists where crashguard may keep its files, best first: the
// configured directory (Dir, CRASHGUARD_DIR or the user cache dir), then a
// per-user fallback under os.TempDir, so that a program with no $HOME (a
// systemd unit, env -i, a container) or a read-only or full configured
// directory still captures its crashes. Duplicates are left out.
func candidateDirs(dir, exe string, e env) []string {
	name := filepath.Base(exe)
	if dir == "" {
		dir = e.getenv("CRASHGUARD_DIR")
	}
	if dir == "" {
		if cache, err := e.userCacheDir(); err == nil {
			dir = filepath.Join(cache, "crashguard", name)
		}
	}
	// The uid keeps users apart in a shared /tmp; the directory is checked
	// like any other (owned by us, 0700), so another user cannot plant it.
	fallback := filepath.Join(e.tempDir(), fmt.Sprintf("crashguard-%d", e.euid), name)
	var dirs []string
	for _, d := range []string{dir, fallback} {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if len(dirs) == 0 || dirs[0] != d {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// releaseEnvs are the variables sentry-go's defaultRelease reads, in its order
// (sentry-go v0.50 util.go).
var releaseEnvs = []string{
	"SENTRY_RELEASE", "HEROKU_BUILD_COMMIT", "HEROKU_SLUG_COMMIT", "SOURCE_VERSION",
	"CODEBUILD_RESOLVED_SOURCE_VERSION", "CIRCLE_SHA1", "GAE_DEPLOYMENT_ID", "GITHUB_SHA",
	"COMMIT_REF", "VERCEL_GIT_COMMIT_SHA", "ZEIT_GITHUB_COMMIT_SHA", "ZEIT_GITLAB_COMMIT_SHA",
	"ZEIT_BITBUCKET_COMMIT_SHA",
}

// defaultRelease follows sentry-go: release variables, then the VCS revision
// stamped into the binary. Unlike sentry-go it does not run `git describe`:
// Install runs at the top of every main and must not spawn a process. Last,
// the main module's path@version when the binary has a real version.
func defaultRelease(e env) string {
	for _, k := range releaseEnvs {
		if v := e.getenv(k); v != "" {
			return v
		}
	}
	info, ok := e.buildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			return s.Value
		}
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return info.Main.Path + "@" + v
	}
	return ""
}

// tracebackLevels orders GOTRACEBACK values as the runtime does
// (runtime/runtime1.go setTraceback): a higher level shows more.
var tracebackLevels = map[string]int{"none": 0, "0": 0, "single": 1, "": 1, "1": 2, "all": 2, "2": 3, "system": 3, "crash": 4, "wer": 4}

// effectiveTraceback is the level the runtime will use: debug.SetTraceback
// cannot lower what GOTRACEBACK set, only raise it. Like the runtime's
// setTraceback it is case-sensitive, and a value it does not know (not a
// name, not a number: "bogus", "ALL") prints no goroutine at all — the
// runtime's default branch sets level 0 — so it counts as "none"; a
// Traceback option the runtime does not know changes nothing.
func effectiveTraceback(env, opt string) string {
	if _, ok := tracebackLevels[env]; !ok {
		env = "none"
	}
	if env == "" {
		env = "single"
	}
	if lv, ok := tracebackLevels[opt]; ok && opt != "" && lv > tracebackLevels[env] {
		return opt
	}
	return env
}
