package throwscan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScan runs the scan over a made-up GOROOT that has each form the
// runtime uses.
func TestScan(t *testing.T) {
	root := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(root, "src", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	write("runtime/panic.go", `package runtime

const msgConst = "from a constant"

func throw(s string) {}
func fatal(s string) {}

func plain() {
	throw("plain")
}

func (m *mspan) method() { throw("pointer " +
	"method") }

func (c cache[K, V]) generic() { throw(msgConst) }

func closures() {
	systemstack(func() {
		throw("first closure")
		func() { fatal("nested") }()
	})
	defer func() {
		text := "built"
		throw(text + ": " + s)
	}()
	throw(s)
}

//go:linkname notify sync.runtime_notify
func notify() { fatal("pushed name") }
`)
	write("runtime/x_test.go", "package runtime\nfunc t() { throw(\"test file\") }\n")
	write("runtime/testdata/p/main.go", "package main\nfunc m() { throw(\"testdata\") }\n")
	write("sync/runtime.go", "package sync\n\nfunc throw(string)\nfunc fatal(string)\n\nfunc (m *Mutex) Unlock() { fatal(\"sync: unlock\") }\n")
	write("other/x.go", "package other\nfunc fatal(s string) { println(s) }\nfunc f() { fatal(\"not linked\") }\n")

	sites, err := Scan(root)
	require.NoError(t, err)
	assert.Equal(t, []Site{
		{Func: "runtime.(*mspan).method", File: "panic.go", Line: 12, Message: "pointer method"},
		{Func: "runtime.cache[...].generic", File: "panic.go", Line: 15, Message: "from a constant"},
		{Func: "runtime.closures", File: "panic.go", Line: 26},
		{Func: "runtime.closures.func1", File: "panic.go", Line: 19, Message: "first closure"},
		{Func: "runtime.closures.func1.1", File: "panic.go", Line: 20, Message: "nested", Fatal: true},
		{Func: "runtime.closures.func2", File: "panic.go", Line: 24, Message: "built: ", Prefix: true},
		{Func: "runtime.plain", File: "panic.go", Line: 9, Message: "plain"},
		{Func: "sync.(*Mutex).Unlock", File: "runtime.go", Line: 6, Message: "sync: unlock", Fatal: true},
		{Func: "sync.runtime_notify", File: "panic.go", Line: 30, Message: "pushed name", Fatal: true},
	}, sites)
}
