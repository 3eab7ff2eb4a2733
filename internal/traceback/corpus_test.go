package traceback

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/testprog"
	"github.com/crashguard/crashguard-go/internal/traceback/internal/throwscan"
)

// TestGoRuntimeCorpus runs the parser on crash output nobody here wrote: the
// crashing modes of the Go runtime's own test programs,
// GOROOT/src/runtime/testdata/testprog and testprogcgo, built from the
// GOROOT of the Go in use each time (never kept in the repository).
//
// An -overlay adds one file to their package main that calls
// debug.SetCrashOutput (to the file named by $CRASHGUARD_CORPUS_CRASH_FILE)
// in a package variable initializer, before any init function of theirs
// runs; GOROOT is not modified. Each run captures both copies: standard
// error, which has every line, and the crash file, the copy crashguard reads
// (golang/go#76859: it lacks "fatal error: ..." and what else the runtime
// prints before it starts dying).
//
// The runs are what the runtime's tests run: every registered mode whose
// name a runtime test file spells out, with the environment its
// runTestProg call passes, then GOTRACEBACK=system for each mode that
// crashed (the level the runtime's tests use to see its own frames). Each
// run that crashed (stderr shows a panic, fatal error or fatal signal) is
// checked against the ground truth read from stderr by corpusTruth, which
// shares no code with Parse: kind, message, crashed goroutine, number of
// goroutines and the crashed goroutine's top frame. A message counts as
// right when it is the runtime's text, exact or inferred, or when it is an
// inferred prefix that Result.MessagePrefix owns up to. An empty crash file
// is right only for knownEmptyCrashFile.
func TestGoRuntimeCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Go runtime's test programs (about a minute)")
	}
	start := time.Now()
	goroot := goEnv(t, "GOROOT")
	src := filepath.Join(goroot, "src", "runtime")
	if _, err := os.Stat(filepath.Join(src, "testdata", "testprog", "main.go")); err != nil {
		t.Skipf("GOROOT %s holds no runtime test programs (runtime/testdata/testprog): %v", goroot, err)
	}
	progs := []string{"testprog"}
	if goEnv(t, "CGO_ENABLED") == "1" {
		progs = append(progs, "testprogcgo")
	} else {
		t.Log("cgo is off: testprogcgo is not built, its modes are not run")
	}

	runs, err := corpusRuns(src, progs)
	require.NoError(t, err)
	require.NotEmpty(t, runs, "no test program mode found in %s/*_test.go", src)

	dir := t.TempDir()
	bins := buildCorpus(t, goroot, dir, progs)
	built := time.Since(start)

	// Phase 1: the runs the tests spell out. Phase 2: GOTRACEBACK=system
	// for every mode that crashed.
	results := runCorpus(t, bins, dir, runs)
	var extra []corpusRun
	have := map[string]bool{}
	for _, r := range runs {
		have[r.key()] = true
	}
	crashedModes := map[string]bool{}
	for _, res := range results {
		if res.truth.kind == "" {
			continue
		}
		crashedModes[res.run.prog+" "+res.run.mode] = true
		sys := corpusRun{prog: res.run.prog, mode: res.run.mode, env: []string{"GOTRACEBACK=system"}}
		if !have[sys.key()] && len(res.run.env) == 0 {
			have[sys.key()] = true
			extra = append(extra, sys)
		}
	}
	results = append(results, runCorpus(t, bins, dir, extra)...)
	ran := time.Since(start) - built
	sort.Slice(results, func(i, j int) bool { return results[i].run.key() < results[j].run.key() })

	type tally struct{ right, wrong, empty, limitEmpty, limit int }
	var errCopy, crashCopy tally
	verdicts := map[string]int{}
	crashing := 0
	for _, res := range results {
		if res.truth.kind == "" {
			if res.timedOut {
				t.Logf("%s: timed out without crashing", res.run.key())
			}
			continue
		}
		crashing++
		t.Run(strings.ReplaceAll(res.run.key(), " ", "/"), func(t *testing.T) {
			se := judgeCopy(res.stderr, res.truth)
			cf := judgeCopy(res.crash, res.truth)
			if len(strings.TrimSpace(string(res.crash))) == 0 && knownEmptyCrashFile(res.truth) {
				cf = verdict{class: "limit", why: limitEmpty}
			}
			if cf.class == "wrong" && cf.why == fmt.Sprintf("message empty, want %q", msgNilFunc) {
				// At GOTRACEBACK=single the runtime hides its frames of a
				// fatal on a user goroutine: only the user's line with the
				// go statement is left (knownUninferable in realdata_test).
				cf = verdict{class: "limit", why: "documented limit: no evidence of the message"}
			}
			for _, c := range []struct {
				v verdict
				n *tally
			}{{se, &errCopy}, {cf, &crashCopy}} {
				switch c.v.class {
				case "empty":
					c.n.empty++
				case "limit":
					if c.v.why == limitEmpty {
						c.n.limitEmpty++
					} else {
						c.n.limit++
					}
				case "wrong":
					c.n.wrong++
				default:
					c.n.right++
				}
			}
			verdicts["crash file: "+cf.class]++
			t.Logf("stderr %s; crash file %s (%s)", se.class, cf.class, cf.why)
			assert.NotEqual(t, "wrong", se.class, "stderr copy: %s\ntruth: %+v", se.why, res.truth)
			assert.NotEqual(t, "empty", se.class, "stderr copy is empty")
			assert.Contains(t, []string{"exact", "inferred", "inferred prefix", "inferred family", "limit"}, cf.class,
				"crash file: %s (%s)\ntruth: %+v", cf.class, cf.why, res.truth)
		})
	}
	modes := len(crashedModes)
	t.Logf("GOROOT %s (%s): %d runs, %d crashed, %d distinct crashing modes", goroot, runtime.Version(), len(results), crashing, modes)
	t.Logf("stderr:     %d right, %d wrong, %d empty", errCopy.right, errCopy.wrong, errCopy.empty)
	t.Logf("crash file: %d right, %d wrong (%d of them the documented limit: no evidence of the message), %d empty (%d of them the documented limit)",
		crashCopy.right, crashCopy.wrong+crashCopy.limit, crashCopy.limit, crashCopy.empty+crashCopy.limitEmpty, crashCopy.limitEmpty)
	t.Logf("crash file messages: %v", verdicts)
	t.Logf("time: %v (build %v, runs %v)", time.Since(start).Round(time.Second), built.Round(time.Second), ran.Round(time.Second))
	// On linux/amd64: 94 with Go 1.26.8 (testprog alone, 79), 84 with
	// Go 1.25.14. Other systems lack some modes (tgkill, thread limits).
	minModes := 60
	if len(progs) == 2 && runtime.GOOS == "linux" {
		minModes = 80
		if goMinor(throwscan.Release(goroot)) >= 26 {
			minModes = 90
		}
	}
	assert.GreaterOrEqual(t, modes, minModes, "crashing modes")
}

const limitEmpty = "documented limit: nothing written to the crash file"

// knownEmptyCrashFile is the crash the runtime writes no byte of to the
// crash file: "no goroutines (main called runtime.Goexit) - deadlock!" at
// GOTRACEBACK=single or all. checkdead throws on the scheduler's stack with
// no goroutine left to print, and the "fatal error:" line goes to stderr
// only (golang/go#76859). At system and crash the runtime stack is printed
// and the message is inferred.
func knownEmptyCrashFile(tr corpusTruthResult) bool {
	return tr.msg == msgNoGoroutines && tr.goroutines == 0
}

type corpusRun struct {
	prog, mode string
	env        []string
}

func (r corpusRun) key() string {
	k := r.prog + " " + r.mode
	if len(r.env) > 0 {
		k += " " + strings.Join(r.env, ",")
	}
	return k
}

var registerRE = regexp.MustCompile(`\bregister(?:Init)?\("([^"]+)"`)

// corpusRuns reads the runtime's test files for the modes of progs they run.
func corpusRuns(src string, progs []string) ([]corpusRun, error) {
	registered := map[string]map[string]bool{}
	for _, p := range progs {
		files, err := filepath.Glob(filepath.Join(src, "testdata", p, "*.go"))
		if err != nil {
			return nil, err
		}
		registered[p] = map[string]bool{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, m := range registerRE.FindAllSubmatch(b, -1) {
				registered[p][string(m[1])] = true
			}
		}
	}
	tests, err := filepath.Glob(filepath.Join(src, "*_test.go"))
	if err != nil {
		return nil, err
	}
	var runs []corpusRun
	seen := map[string]bool{}
	add := func(r corpusRun) {
		if !seen[r.key()] {
			seen[r.key()] = true
			runs = append(runs, r)
		}
	}
	fset := token.NewFileSet()
	for _, f := range tests {
		if strings.HasSuffix(f, "_windows_test.go") {
			continue
		}
		file, err := goparser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			lits := map[string]bool{}
			type call struct {
				mode, suffix string // suffix: the mode is an expression + suffix
				env          []string
			}
			var calls []call
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
						lits[s] = true
					}
				case *ast.CallExpr:
					id, ok := n.Fun.(*ast.Ident)
					if !ok {
						return true
					}
					modeArg := 0
					switch id.Name {
					case "runTestProg":
						modeArg = 2
					case "runBuiltTestProg", "runBuiltTestProgErr":
						modeArg = 2
					default:
						return true
					}
					if len(n.Args) <= modeArg {
						return true
					}
					c := call{mode: stringLit(n.Args[modeArg])}
					if b, ok := n.Args[modeArg].(*ast.BinaryExpr); ok && b.Op == token.ADD {
						c.suffix = stringLit(b.Y) // progName+"Deadlock"
					}
					for _, a := range n.Args[modeArg+1:] {
						if e := stringLit(a); strings.Contains(e, "=") && !strings.Contains(e, "%") {
							c.env = append(c.env, e)
						}
					}
					calls = append(calls, c)
				}
				return true
			})
			// A test names its program in the same function, or passes
			// the mode to a helper that does (testDeadlock(t, "...")):
			// then every program that registers the name.
			mentioned := slices.ContainsFunc(progs, func(p string) bool { return lits[p] })
			for _, p := range progs {
				if mentioned && !lits[p] {
					continue
				}
				for name := range registered[p] {
					for _, c := range calls {
						if c.suffix != "" && strings.HasSuffix(name, c.suffix) && lits[strings.TrimSuffix(name, c.suffix)] {
							add(corpusRun{prog: p, mode: name, env: c.env})
						}
					}
					if !lits[name] {
						continue
					}
					add(corpusRun{prog: p, mode: name})
					for _, c := range calls {
						if c.mode == name && len(c.env) > 0 {
							add(corpusRun{prog: p, mode: name, env: c.env})
						}
					}
				}
			}
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].key() < runs[j].key() })
	return runs, nil
}

func stringLit(e ast.Expr) string {
	if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
		s, _ := strconv.Unquote(l.Value)
		return s
	}
	return ""
}

// corpusOverlay is the file the overlay adds to the test programs' package
// main. A package variable initializer runs before every init function of
// the package, so the crash output is set before registerInit modes run.
const corpusOverlay = `package main

import (
	crashguardCorpusOS "os"
	crashguardCorpusDebug "runtime/debug"
)

var crashguardCorpusCrashOutput = func() bool {
	if name := crashguardCorpusOS.Getenv("CRASHGUARD_CORPUS_CRASH_FILE"); name != "" {
		if f, err := crashguardCorpusOS.Create(name); err == nil {
			crashguardCorpusDebug.SetCrashOutput(f, crashguardCorpusDebug.CrashOptions{})
			f.Close()
		}
	}
	return true
}()
`

func buildCorpus(t *testing.T, goroot, dir string, progs []string) map[string]string {
	t.Helper()
	file := filepath.Join(dir, "crashguard_corpus.go")
	require.NoError(t, os.WriteFile(file, []byte(corpusOverlay), 0o600))
	replace := map[string]string{}
	for _, p := range progs {
		// "000" sorts first: the go command hands files to the compiler
		// by name, and initializers run in that order.
		replace[filepath.Join(goroot, "src", "runtime", "testdata", p, "000_crashguard_corpus.go")] = file
	}
	ov, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	overlay := filepath.Join(dir, "overlay.json")
	require.NoError(t, os.WriteFile(overlay, ov, 0o600))

	modcache := goEnv(t, "GOMODCACHE")
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(progs))
	for i, p := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin := filepath.Join(dir, p)
			// GOROOT's own go command. A toolchain the go command
			// fetched (GOTOOLCHAIN) lives in the module cache, where
			// overlays may not replace files: then build with another,
			// empty module cache (the runtime's programs need none).
			cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "build", "-overlay", overlay, "-o", bin, ".")
			cmd.Dir = filepath.Join(goroot, "src", "runtime", "testdata", p)
			cmd.Env = append(testprog.CleanEnv(), "GOTOOLCHAIN=local")
			if rel, err := filepath.Rel(modcache, goroot); err == nil && !strings.HasPrefix(rel, "..") {
				cmd.Env = append(cmd.Env, "GOMODCACHE="+filepath.Join(dir, "modcache"), "GOFLAGS=-modcacherw")
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", p, err, out)
				return
			}
			mu.Lock()
			bins[p] = bin
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	return bins
}

type corpusResult struct {
	run           corpusRun
	stderr, crash []byte
	timedOut      bool
	truth         corpusTruthResult
}

// runCorpus runs each run once, a few at a time.
func runCorpus(t *testing.T, bins map[string]string, dir string, runs []corpusRun) []corpusResult {
	t.Helper()
	out := make([]corpusResult, len(runs))
	// Most runs are a few milliseconds of a process starting and dying:
	// twice the CPUs keeps them busy without a pile-up.
	sem := make(chan struct{}, min(8, 2*runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = runOne(bins[r.prog], dir, i, r)
		}()
	}
	wg.Wait()
	return out
}

// corpusTimeout bounds one run. The crashing modes end in well under a
// second; a few modes of the programs wait for a signal the test would send.
const corpusTimeout = 15 * time.Second

func runOne(bin, dir string, i int, r corpusRun) corpusResult {
	res := corpusResult{run: r}
	crashFile := filepath.Join(dir, fmt.Sprintf("run%d.crash", i))
	ctx, cancel := context.WithTimeout(context.Background(), corpusTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, r.mode)
	cmd.Dir = dir
	cmd.Env = append(testprog.CleanEnv(), "CRASHGUARD_CORPUS_CRASH_FILE="+crashFile)
	cmd.Env = append(cmd.Env, r.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	_ = cmd.Run()
	res.timedOut = ctx.Err() != nil
	res.stderr = []byte(stderr.String())
	res.crash, _ = os.ReadFile(crashFile)
	if !res.timedOut {
		res.truth = corpusTruth(res.stderr)
	}
	return res
}

// corpusTruthResult is what standard error says, read line by line
// without Parse.
type corpusTruthResult struct {
	kind       report.Kind
	msg        string
	crashed    int64
	goroutines int
	top        string // function of the crashed goroutine's top frame, "" for a C frame
}

var (
	truthGoroutineRE = regexp.MustCompile(`^goroutine (\d+) (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[([^],]*)`)
	truthSignalRE    = regexp.MustCompile(`^(SIG[A-Z0-9]+|signal \d+): `)
)

func corpusTruth(stderr []byte) corpusTruthResult {
	var tr corpusTruthResult
	var fatal, signal, panicV string
	hasFatal, inPanic, inFatal, g0 := false, false, false, false
	firstG := true
	wantTop := false
	lines := strings.Split(string(stderr), "\n")
	for i, l := range lines {
		if l == "-----" {
			break // GOTRACEBACK=crash: the other threads
		}
		if wantTop {
			wantTop = false
			top := l
			if j := strings.LastIndexByte(top, '('); j > 0 && strings.HasSuffix(top, ")") {
				top = top[:j]
			}
			if top == "non-Go function" || strings.HasPrefix(top, "non-Go function at pc=") {
				top = ""
			}
			tr.top = top
		}
		if (inPanic || inFatal) && strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\tpanic: ") && !strings.HasPrefix(l, "\tfatal error: ") {
			// A multi-line value: the runtime puts a tab after each newline.
			if inPanic {
				panicV += "\n" + l[1:]
			} else {
				fatal += "\n" + l[1:]
			}
			continue
		}
		inPanic, inFatal = false, false
		switch {
		case strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "\tfatal error: "):
			if !hasFatal {
				fatal, hasFatal, inFatal = strings.TrimPrefix(strings.TrimPrefix(l, "\t"), "fatal error: "), true, true
			}
		case strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "\tpanic: "):
			panicV, inPanic = strings.TrimPrefix(strings.TrimPrefix(l, "\t"), "panic: "), true
		case truthSignalRE.MatchString(l) && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "PC="):
			if signal == "" {
				signal = l
			}
		default:
			if m := truthGoroutineRE.FindStringSubmatch(l); m != nil {
				id, _ := strconv.ParseInt(m[1], 10, 64)
				if id == 0 {
					if firstG {
						g0 = true
					}
					continue
				}
				tr.goroutines++
				if firstG {
					firstG = false
					state, _, _ := strings.Cut(m[2], " (")
					if state == "running" || state == "syscall" && !g0 {
						tr.crashed = id
						wantTop = true
					}
				}
			}
		}
	}
	switch {
	case hasFatal:
		tr.msg = fatal
		tr.kind = report.KindFatalError
		if fatal == "fault" || strings.HasPrefix(fatal, "unexpected signal") {
			tr.kind = report.KindFault
		}
	case signal != "":
		tr.kind, tr.msg = report.KindFault, signal
	case panicV != "" || strings.Contains(string(stderr), "\npanic: ") || strings.HasPrefix(string(stderr), "panic: "):
		for _, s := range []string{" [recovered, repanicked]", " [recovered]"} {
			panicV = strings.TrimSuffix(panicV, s)
		}
		tr.kind, tr.msg = report.KindPanic, strings.TrimSpace(panicV)
	}
	return tr
}

type verdict struct {
	class string // exact, inferred, inferred prefix, wrong, empty, limit
	why   string
}

// judgeCopy parses one copy and compares it with the truth.
func judgeCopy(b []byte, tr corpusTruthResult) verdict {
	if len(strings.TrimSpace(string(b))) == 0 {
		return verdict{class: "empty", why: "no byte of crash output"}
	}
	r, err := Parse(b)
	if err != nil {
		return verdict{class: "empty", why: err.Error()}
	}
	var bad []string
	if r.Kind != tr.kind {
		bad = append(bad, fmt.Sprintf("kind %q, want %q", r.Kind, tr.kind))
	}
	if r.CrashedGoroutine != tr.crashed {
		bad = append(bad, fmt.Sprintf("crashed goroutine %d, want %d", r.CrashedGoroutine, tr.crashed))
	}
	if len(r.Goroutines) != tr.goroutines {
		bad = append(bad, fmt.Sprintf("%d goroutines, want %d", len(r.Goroutines), tr.goroutines))
	}
	if tr.crashed != 0 {
		top := "(none)"
		for _, g := range r.Goroutines {
			if g.Crashed && len(g.Frames) > 0 {
				top = g.Frames[0].Function
			}
		}
		if top != tr.top {
			bad = append(bad, fmt.Sprintf("top frame %q, want %q", top, tr.top))
		}
	}
	class := "exact"
	switch {
	case r.Message == tr.msg && !r.MessageInferred:
	case r.Message == tr.msg && !r.MessagePrefix:
		class = "inferred"
	case r.MessageInferred && r.MessagePrefix && r.Message != "" && strings.HasPrefix(tr.msg, r.Message):
		class = "inferred prefix"
	case r.MessageInferred && r.Message == msgMapFamily && slices.Contains([]string{msgMapWrites, msgMapRead, msgMapIter, msgMapClone}, tr.msg):
		class = "inferred family"
	case r.Message == "":
		bad = append(bad, fmt.Sprintf("message empty, want %q", tr.msg))
	default:
		bad = append(bad, fmt.Sprintf("message %q (inferred %v from %s), want %q", r.Message, r.MessageInferred, r.InferredFrom, tr.msg))
	}
	if len(bad) > 0 {
		return verdict{class: "wrong", why: strings.Join(bad, "; ")}
	}
	return verdict{class: class, why: r.InferredFrom}
}

// goMinor returns 26 for "go1.26.8", 0 for what it cannot read.
func goMinor(release string) int {
	rest, ok := strings.CutPrefix(release, "go1.")
	if !ok {
		return 0
	}
	minor, _, _ := strings.Cut(rest, ".")
	n, _ := strconv.Atoi(strings.TrimRightFunc(minor, func(r rune) bool { return r < '0' || r > '9' }))
	return n
}

// goEnv is `go env name` for the Go that runs the test.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err, "go env %s", name)
	s := bufio.NewScanner(strings.NewReader(string(out)))
	s.Scan()
	return strings.TrimSpace(s.Text())
}
