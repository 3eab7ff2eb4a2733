// Command prog is built and run by the symbolize tests. It prints, as
// JSON, the runtime addresses of functions the test knows, the runtime's
// own answer for where some of those pcs are, and the images of its
// process from symbolize.CurrentImages; the test then symbolizes the same
// pcs from the files after the process has exited.
package main

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"

	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/symbolize"
)

// Probe is a pc and what the runtime says about it.
type Probe struct {
	PC       uint64
	Function string
	File     string
	Line     int
}

// Output is what prog prints.
type Output struct {
	Images    []report.Image
	ImagesErr string
	Go        []Probe // pcs inside main.goFunc
	Sentinel  uint64  // entry of main.sentinel
	C         uint64  // entry of c_crash_here (cgo builds)
	Lib       uint64  // entry of lib_func in the library named by argv[1]
}

// cAddrs is set by cgo.go in cgo builds.
var cAddrs func(lib string) (c, l uint64)

//go:noinline
func goFunc(x int) int {
	y := x * 3
	if y > 10 {
		y -= 7
	}
	for i := 0; i < x; i++ {
		y ^= i << 2
	}
	return y
}

//go:noinline
func sentinel() int { return 42 }

func main() {
	var out Output
	entry := reflect.ValueOf(goFunc).Pointer()
	for _, off := range []uintptr{0, 1, 8, 0x10, 0x20, 0x30} {
		pc := entry + off
		f := runtime.FuncForPC(pc)
		if f == nil || f.Name() != "main.goFunc" {
			continue
		}
		file, line := f.FileLine(pc)
		if line == 0 {
			continue // padding after the function's last instruction
		}
		out.Go = append(out.Go, Probe{PC: uint64(pc), Function: f.Name(), File: file, Line: line})
	}
	out.Sentinel = uint64(reflect.ValueOf(sentinel).Pointer())
	if cAddrs != nil {
		lib := ""
		if len(os.Args) > 1 {
			lib = os.Args[1]
		}
		out.C, out.Lib = cAddrs(lib)
	}
	var err error
	out.Images, err = symbolize.CurrentImages()
	if err != nil {
		out.ImagesErr = err.Error()
	}
	_ = goFunc(len(os.Args)) + sentinel()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
