//go:build cgo && (linux || darwin)

package native

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// BenchmarkRecoveredNilPanic measures a nil dereference in Go code that the
// program recovers, without the chain and then with it (the chain is
// process-wide, so "without" runs first), and prints the ratio. The target
// is <= 1.15.
func BenchmarkRecoveredNilPanic(b *testing.B) {
	if installedForTest() {
		b.Skip("a chain is installed; cannot measure without it")
	}
	perOp := func(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }
	var without, with float64
	b.Run("without", func(b *testing.B) {
		for b.Loop() {
			recoveredNil()
		}
		without = perOp(b)
	})
	install(b, Options{})
	b.Run("with", func(b *testing.B) {
		for b.Loop() {
			recoveredNil()
		}
		with = perOp(b)
	})
	// Interleaved rounds are less exposed to a noisy neighbour than two
	// back-to-back runs; report their median ratio too.
	const rounds, n = 15, 2000
	round := func() float64 {
		start := time.Now()
		for i := 0; i < n; i++ {
			recoveredNil()
		}
		return float64(time.Since(start).Nanoseconds()) / n
	}
	var ratios []float64
	for i := 0; i < rounds; i++ {
		require.NoError(b, Uninstall())
		w0 := round()
		path := filepath.Join(b.TempDir(), fmt.Sprintf("r%d.bin", i))
		require.NoError(b, flightrec.Create(path))
		_, err := Install(path, Options{})
		require.NoError(b, err)
		ratios = append(ratios, round()/w0)
	}
	sort.Float64s(ratios)
	if without > 0 && with > 0 {
		fmt.Printf("BenchmarkRecoveredNilPanic: without %.0f ns/op, with %.0f ns/op, ratio %.3f; interleaved median ratio %.3f (min %.3f, max %.3f)\n",
			without, with, with/without, ratios[rounds/2], ratios[0], ratios[rounds-1])
	}
}

// BenchmarkInstall measures Install (open and map the recorder, find the Go
// text, scan the images, install 7 handlers) plus Uninstall.
func BenchmarkInstall(b *testing.B) {
	if installedForTest() {
		b.Skip("a chain is installed")
	}
	path := filepath.Join(b.TempDir(), "flight.bin")
	require.NoError(b, flightrec.Create(path))
	for b.Loop() {
		if _, err := Install(path, Options{}); err != nil {
			b.Fatal(err)
		}
		if err := Uninstall(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateRecorder measures flightrec.Create of the default recorder
// (the other half of the cost of switching the native layer on).
func BenchmarkCreateRecorder(b *testing.B) {
	dir := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if err := flightrec.Create(filepath.Join(dir, fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGoText(b *testing.B) {
	for b.Loop() {
		goText()
	}
}
