//go:build cgo && (linux || darwin)

package native

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

func installedForTest() bool {
	mu.Lock()
	defer mu.Unlock()
	return installed
}

// install installs the chain in this test process for the duration of t.
func install(t testing.TB, opts Options) (*Layers, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flight.bin")
	require.NoError(t, flightrec.Create(path))
	opts.Logf = t.Logf
	l, err := Install(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, Uninstall()) })
	return l, path
}

type node struct{ next *node }

//go:noinline
func deref(n *node) *node { return n.next }

func recoveredNil() (panicked bool) {
	defer func() { panicked = recover() != nil }()
	deref(nil)
	return false
}

func TestInstallReportsLayers(t *testing.T) {
	require.True(t, Available())
	l, path := install(t, Options{})
	assert.True(t, l.SignalChain)
	assert.True(t, l.ChainsToGo, "replaced handlers: %v", l.PrevHandlers)
	assert.False(t, l.LibraryMode)
	assert.False(t, l.Mach)
	assert.Len(t, l.Signals, 7)
	assert.NotContains(t, l.Signals, syscall.SIGPROF)
	for sig, name := range l.PrevHandlers {
		assert.True(t, isGoHandler(name), "%v: %s", sig, name)
	}
	assert.Positive(t, l.Images)

	_, err := Install(path, Options{})
	assert.ErrorIs(t, err, ErrInstalled)

	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, flightrec.LayerSignalChain|flightrec.LayerChainsToGo, f.Header.Layers)
	assert.Equal(t, uint64(l.GoTextStart), f.Header.GoTextStart)
	assert.Equal(t, uint64(l.GoTextEnd), f.Header.GoTextEnd)
	require.NotEmpty(t, f.Images)
	mainImage := f.Images[0]
	assert.True(t, mainImage.IsMain())
	exe, _ := os.Executable()
	assert.Equal(t, exe, mainImage.Path)
	assert.Equal(t, flightrec.ImageELF, mainImage.Type)
	assert.LessOrEqual(t, mainImage.Base, uint64(l.GoTextStart))
	assert.Greater(t, mainImage.Base+mainImage.Size, uint64(l.GoTextEnd-1))
	var libc bool
	for _, im := range f.Images {
		if filepath.Base(im.Path) == "libc.so.6" {
			libc = true
			assert.NotEmpty(t, im.BuildID, "distribution libc has a GNU build-id")
		}
	}
	assert.True(t, libc, "libc among %v", f.Images)
}

func TestInstallBadRecorder(t *testing.T) {
	dir := t.TempDir()
	_, err := Install(filepath.Join(dir, "missing"), Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)

	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte{'x'}, 4096), 0o600))
	_, err = Install(junk, Options{})
	assert.ErrorIs(t, err, flightrec.ErrBadMagic)

	short := filepath.Join(dir, "short")
	require.NoError(t, flightrec.Create(short))
	require.NoError(t, os.Truncate(short, 4096))
	_, err = Install(short, Options{})
	assert.ErrorIs(t, err, flightrec.ErrTruncated)
	assert.False(t, installedForTest())
}

// Recovered nil dereferences in Go code still panic and recover, and leave
// cheap, non-fatal records.
func TestRecoveredNilDereference(t *testing.T) {
	_, path := install(t, Options{})
	for i := 0; i < 100; i++ {
		require.True(t, recoveredNil())
	}
	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, f.Records)
	assert.Empty(t, f.Fatal())
	pcName := flightrec.PCRegister(f.Header.Arch)
	for _, r := range f.Records {
		assert.False(t, r.Incomplete)
		assert.Equal(t, flightrec.FlagGoCode|flightrec.FlagGoThread|flightrec.FlagFromSignal, r.Flags)
		assert.Equal(t, int(syscall.SIGSEGV), r.Signal)
		assert.Equal(t, 1, r.Code) // SEGV_MAPERR
		assert.Equal(t, uint64(0), r.Addr)
		assert.Equal(t, r.PC, f.RegisterMap(&r)[pcName])
		assert.Equal(t, []uint64{r.PC}, r.Frames)
		fn := runtime.FuncForPC(uintptr(r.PC))
		require.NotNil(t, fn)
		assert.Contains(t, fn.Name(), "deref")
		assert.Less(t, r.HandlerDuration, time.Second)
		assert.WithinDuration(t, time.Now(), r.Time, time.Minute)
	}
	assert.GreaterOrEqual(t, f.Header.NextSeq, uint64(100))
}

func TestSetPanicOnFaultStillWorks(t *testing.T) {
	_, path := install(t, Options{})
	mem, err := syscall.Mmap(-1, 0, os.Getpagesize(), syscall.PROT_NONE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	defer syscall.Munmap(mem)
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	var sink byte
	r := func() (r any) {
		defer func() { r = recover() }()
		sink = mem[16]
		return nil
	}()
	require.NotNil(t, r, "read of PROT_NONE memory did not panic")
	// SetPanicOnFault's panic value carries the fault address.
	addrErr, ok := r.(interface{ Addr() uintptr })
	require.True(t, ok, "%T %v", r, r)
	assert.Equal(t, uintptr(unsafePointer(mem))+16, addrErr.Addr())
	_ = sink

	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, f.Records)
	last := f.Records[len(f.Records)-1]
	assert.Equal(t, uint64(uintptr(unsafePointer(mem))+16), last.Addr)
	assert.Equal(t, 2, last.Code) // SEGV_ACCERR
	assert.False(t, last.Flags.Has(flightrec.FlagFatal))
}

func TestSignalNotifyStillWorks(t *testing.T) {
	install(t, Options{})
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGABRT, syscall.SIGUSR1)
	defer signal.Stop(c)
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGABRT} {
		require.NoError(t, syscall.Kill(os.Getpid(), sig))
		select {
		case got := <-c:
			assert.Equal(t, sig, got)
		case <-time.After(20 * time.Second):
			t.Fatalf("%v never delivered", sig)
		}
	}
}

//go:noinline
func spin(d time.Duration) int {
	x := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 1000; i++ {
			x += i ^ x
		}
	}
	return x
}

func TestCPUProfileStillWorks(t *testing.T) {
	install(t, Options{})
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	spin(300 * time.Millisecond)
	pprof.StopCPUProfile()
	r, err := gzip.NewReader(&buf)
	require.NoError(t, err)
	raw, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "native.spin", "SIGPROF samples landed")
}

func TestExecChildUnaffected(t *testing.T) {
	install(t, Options{})
	out, err := exec.Command("/bin/sh", "-c", "kill -SEGV $$").CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	ws := ee.Sys().(syscall.WaitStatus)
	assert.True(t, ws.Signaled())
	assert.Equal(t, syscall.SIGSEGV, ws.Signal(), "a child dies by its own default action")
}

func TestUninstallRestoresGo(t *testing.T) {
	l, _ := install(t, Options{})
	require.NoError(t, Uninstall())
	assert.False(t, installedForTest())
	assert.True(t, recoveredNil(), "Go's handler is back")
	// And again: Install after Uninstall works.
	path := filepath.Join(t.TempDir(), "again.bin")
	require.NoError(t, flightrec.Create(path))
	l2, err := Install(path, Options{})
	require.NoError(t, err)
	assert.Equal(t, l.PrevHandlers, l2.PrevHandlers, "the saved handlers are Go's again, not ours")
	assert.True(t, recoveredNil())
	f, err := flightrec.ReadFile(path)
	require.NoError(t, err)
	assert.NotEmpty(t, f.Records)
}

func TestRefreshImages(t *testing.T) {
	install(t, Options{})
	n, err := RefreshImages()
	require.NoError(t, err)
	assert.Zero(t, n, "nothing new was loaded")
}

func TestSuppressModeSetter(t *testing.T) {
	install(t, Options{SuppressMode: SuppressExit})
	assert.Equal(t, SuppressExit, SuppressMode(suppressModeForTest()))
	SetSuppressMode(SuppressOff)
	assert.Equal(t, SuppressOff, SuppressMode(suppressModeForTest()))
	// Faults in Go code are never suppressed, whatever the mode.
	SetSuppressMode(SuppressExit)
	assert.True(t, recoveredNil())
	SetSuppressMode(SuppressOff)
}
