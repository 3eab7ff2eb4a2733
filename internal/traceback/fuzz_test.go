package traceback

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crashguard/crashguard-go/internal/report"
)

// FuzzParse checks that the parser never panics (it runs without the
// recover that Parse adds) and that what it returns holds together. It is
// seeded with every real crash output in testdata.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/go1.*/*.crash.txt")
	if err != nil {
		f.Fatal(err)
	}
	labelled, _ := filepath.Glob("testdata/labels/*.crash.txt")
	files = append(files, labelled...)
	for _, name := range files {
		f.Add(readTestdata(f, strings.TrimPrefix(filepath.ToSlash(name), "testdata/")))
	}
	f.Add(crash("panic: a [recovered]", "\tpanic: b", "", "goroutine 1 [running]:", "main.main()", "\t/m.go:1 +0x1"))
	f.Add(crash("SIGSEGV: segmentation violation", "PC=0x1 m=0 sigcode=1 addr=0x0", "", "goroutine 0 [idle]:", "runtime.f()", "\t/x.go:1", "-----"))
	f.Add(crash("[originating from goroutine 1]:", "created by x", "\t", "goroutine 2 [x]:", "[originating from goroutine 3]:", "f()", "created by g"))
	f.Add(crash("SIGSEGV: segmentation violation", "PC=0x1 m=0 sigcode=1 addr=0x0", "", "goroutine 1 [syscall]:",
		"non-Go function", "\tcgo symbolizer:1 pc=0x1", "cFunc", "\tpc=0x2", "bare", "runtime.cgocall(0x1)", "\t/x.go:1 +0x1"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newParser(Hints{}).parse(b)
		if r == nil {
			t.Fatal("nil result")
		}
		if err != nil && !errors.Is(err, ErrNotTraceback) {
			t.Fatalf("error does not wrap ErrNotTraceback: %v", err)
		}
		if err == nil {
			switch r.Kind {
			case report.KindPanic, report.KindFatalError, report.KindFault:
			default:
				t.Fatalf("kind %q", r.Kind)
			}
		}
		crashed := 0
		for _, g := range r.Goroutines {
			if g.ID <= 0 {
				t.Fatalf("goroutine id %d", g.ID)
			}
			if g.Crashed {
				crashed++
				if g.ID != r.CrashedGoroutine {
					t.Fatalf("crashed goroutine %d, CrashedGoroutine %d", g.ID, r.CrashedGoroutine)
				}
			}
		}
		if crashed > 1 || crashed == 0 && r.CrashedGoroutine != 0 {
			t.Fatalf("%d goroutines crashed, CrashedGoroutine %d", crashed, r.CrashedGoroutine)
		}
		if r.MessageInferred && (r.Message == "" || r.InferredFrom == "") {
			t.Fatalf("inferred %q from %q", r.Message, r.InferredFrom)
		}
		if !r.MessageInferred && r.InferredFrom != "" {
			t.Fatalf("InferredFrom %q without inference", r.InferredFrom)
		}
		if r.MessageInferred && r.Kind == report.KindPanic {
			t.Fatalf("inferred a panic: %q", r.Message)
		}
		// The public entry point agrees with the unprotected one.
		r2, err2 := Parse(b)
		if (err == nil) != (err2 == nil) || r2.Message != r.Message || len(r2.Goroutines) != len(r.Goroutines) {
			t.Fatalf("Parse and parse disagree")
		}
	})
}
