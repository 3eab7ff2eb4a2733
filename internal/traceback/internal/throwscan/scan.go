// Package throwscan finds, in the sources of a Go release, every call
// through which the runtime dies with a fatal error: runtime.throw and
// runtime.fatal, and the throw and fatal functions other standard packages
// link to them (sync, internal/sync, internal/runtime/maps, crypto/rand,
// ...). For each call it records the function it is in, named as a
// traceback prints it, the file and line of the call, and the message when
// it is a constant.
//
// The traceback package infers the "fatal error:" text that the
// SetCrashOutput copy of a crash lacks (golang/go#76859) from the frame
// that called the throw; its table of those calls is generated from this
// scan (throwgen), and a test scans the GOROOT in use to fail when a Go
// release throws from a call the table does not know.
package throwscan

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Site is one call of throw or fatal.
type Site struct {
	// Func is the enclosing function as a traceback prints it:
	// "runtime.checkmcount", "runtime.(*mspan).reportZombies",
	// "runtime.preprintpanics.func1", or the name a //go:linkname
	// directive gives it ("sync.runtime_notifyListNotifyAll").
	Func string
	// File is the base name of the file, Line the line of the call.
	File string
	Line int
	// Message is the constant text, "" when it is built at run time. With
	// Prefix, the text is built at run time and Message is its constant
	// start ("panic while printing panic value: " + ...).
	Message string
	Prefix  bool
	// Fatal is true for fatal (an error of the program: the runtime hides
	// its own frames at GOTRACEBACK=single), false for throw.
	Fatal bool
}

// Dynamic reports whether the message is built at run time.
func (s Site) Dynamic() bool { return s.Message == "" || s.Prefix }

// bodyless matches the declaration of a throw or fatal linked to the
// runtime's: "func throw(string)", "func fatal(s string)".
var bodyless = regexp.MustCompile(`(?m)^func (throw|fatal)\((?:\w+ )?string\)\s*$`)

// Scan returns the throw and fatal calls in the standard library sources
// under goroot/src, sorted by function, file and line. Test files,
// testdata and cmd are left out; files of every GOOS and GOARCH are read.
func Scan(goroot string) ([]Site, error) {
	src := filepath.Join(goroot, "src")
	if _, err := os.Stat(filepath.Join(src, "runtime", "panic.go")); err != nil {
		return nil, fmt.Errorf("throwscan: no runtime sources in %s: %w", goroot, err)
	}
	// Directories holding Go files with a throw or fatal: the runtime,
	// and the packages that declare one without a body (linked to the
	// runtime's).
	dirs := map[string]bool{filepath.Join(src, "runtime"): true}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "vendor":
				return filepath.SkipDir
			}
			if path == filepath.Join(src, "cmd") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bodyless.Match(b) {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var sites []Site
	for dir := range dirs {
		rel, err := filepath.Rel(src, dir)
		if err != nil {
			return nil, err
		}
		s, err := scanPackage(dir, filepath.ToSlash(rel))
		if err != nil {
			return nil, err
		}
		sites = append(sites, s...)
	}
	Sort(sites)
	return sites, nil
}

// Sort sorts sites by function, file, line and message, and removes
// duplicates.
func Sort(sites []Site) []Site {
	sort.Slice(sites, func(i, j int) bool {
		a, b := sites[i], sites[j]
		if a.Func != b.Func {
			return a.Func < b.Func
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Message != b.Message {
			return a.Message < b.Message
		}
		if a.Prefix != b.Prefix {
			return !a.Prefix
		}
		return !a.Fatal && b.Fatal
	})
	out := sites[:0]
	for i, s := range sites {
		if i == 0 || s != sites[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// scanPackage scans the Go files (not tests) of one package directory.
func scanPackage(dir, pkg string) ([]Site, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	consts := map[string]string{} // package-level string constants
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if f.Name.Name == "main" || strings.HasSuffix(f.Name.Name, "_test") {
			continue
		}
		files = append(files, f)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := constString(vs.Values[i], nil); ok {
							consts[name.Name] = s
						}
					}
				}
			}
		}
	}
	var sites []Site
	for _, f := range files {
		linknames := linknames(f)
		file := filepath.Base(fset.Position(f.Package).Filename)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := pkg + "." + funcName(fn)
			if fn.Recv == nil {
				if ln, ok := linknames[fn.Name.Name]; ok {
					name = ln
				}
			}
			w := &walker{fset: fset, file: file, consts: localConsts(fn.Body, consts), sites: &sites}
			w.walk(fn.Body, name, false)
		}
	}
	return sites, nil
}

// walker collects the sites in one function body, naming closures the way
// the compiler does: F.func1, F.func2 in source order, F.func1.1 for a
// closure inside F.func1.
type walker struct {
	fset   *token.FileSet
	file   string
	consts map[string]string
	sites  *[]Site
}

func (w *walker) walk(body ast.Node, name string, inClosure bool) {
	n := 0
	ast.Inspect(body, func(node ast.Node) bool {
		switch x := node.(type) {
		case *ast.FuncLit:
			n++
			sub := fmt.Sprintf("%s.func%d", name, n)
			if inClosure {
				sub = fmt.Sprintf("%s.%d", name, n)
			}
			w.walk(x.Body, sub, true)
			return false
		case *ast.CallExpr:
			id, ok := x.Fun.(*ast.Ident)
			if !ok || (id.Name != "throw" && id.Name != "fatal") || len(x.Args) != 1 {
				return true
			}
			msg, ok := constString(x.Args[0], w.consts)
			prefix := false
			if !ok {
				msg = constPrefix(x.Args[0], w.consts)
				prefix = msg != ""
			}
			*w.sites = append(*w.sites, Site{
				Func:    name,
				File:    w.file,
				Line:    w.fset.Position(x.Lparen).Line,
				Message: msg,
				Prefix:  prefix,
				Fatal:   id.Name == "fatal",
			})
		}
		return true
	})
}

// constPrefix returns the constant start of a string built with "+".
func constPrefix(e ast.Expr, consts map[string]string) string {
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != token.ADD {
		return ""
	}
	if s, ok := constString(b.X, consts); ok {
		return s
	}
	return constPrefix(b.X, consts)
}

// localConsts adds to the package's constants the local variables of body
// defined once from a constant string (text := "..."), as the runtime
// spells some messages.
func localConsts(body ast.Node, consts map[string]string) map[string]string {
	local := map[string]string{}
	assigned := map[string]int{}
	ast.Inspect(body, func(n ast.Node) bool {
		a, ok := n.(*ast.AssignStmt)
		if !ok {
			return true
		}
		for i, l := range a.Lhs {
			id, ok := l.(*ast.Ident)
			if !ok {
				continue
			}
			assigned[id.Name]++
			if a.Tok == token.DEFINE && len(a.Rhs) == len(a.Lhs) {
				if s, ok := constString(a.Rhs[i], consts); ok {
					local[id.Name] = s
				}
			}
		}
		return true
	})
	if len(local) == 0 {
		return consts
	}
	m := make(map[string]string, len(consts)+len(local))
	for k, v := range consts {
		m[k] = v
	}
	for k, v := range local {
		if assigned[k] == 1 {
			m[k] = v
		}
	}
	return m
}

// constString evaluates a string constant expression: literals, "+" of
// constants and names of package constants.
func constString(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		v := constant.MakeFromLiteral(x.Value, x.Kind, 0)
		if v.Kind() != constant.String {
			return "", false
		}
		return constant.StringVal(v), true
	case *ast.ParenExpr:
		return constString(x.X, consts)
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		a, ok := constString(x.X, consts)
		if !ok {
			return "", false
		}
		b, ok := constString(x.Y, consts)
		return a + b, ok
	case *ast.Ident:
		s, ok := consts[x.Name]
		return s, ok
	}
	return "", false
}

// funcName is a declared function's name as a traceback prints it, without
// the package: "f", "T.m", "(*T).m", "(*T[...]).m".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	ptr := false
	if s, ok := t.(*ast.StarExpr); ok {
		ptr, t = true, s.X
	}
	var recv string
	switch x := t.(type) {
	case *ast.Ident:
		recv = x.Name
	case *ast.IndexExpr:
		recv = exprName(x.X) + "[...]"
	case *ast.IndexListExpr:
		recv = exprName(x.X) + "[...]"
	default:
		recv = exprName(t)
	}
	if ptr {
		recv = "(*" + recv + ")"
	}
	return recv + "." + fn.Name.Name
}

func exprName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

// linknames maps a local function name to the symbol name a
// "//go:linkname local path.name" directive in f gives it.
func linknames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			rest, ok := strings.CutPrefix(c.Text, "//go:linkname ")
			if !ok {
				continue
			}
			fields := strings.Fields(rest)
			if len(fields) == 2 && strings.Contains(fields[1], ".") {
				m[fields[0]] = fields[1]
			}
		}
	}
	return m
}

// Release returns the Go release of the sources under goroot, from its
// VERSION file ("go1.26.8"), or "devel".
func Release(goroot string) string {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "devel"
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimSpace(string(line))
}
