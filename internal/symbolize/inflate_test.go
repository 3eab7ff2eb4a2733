package symbolize

import (
	"bytes"
	"compress/zlib"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInflateZlib: inflateZlib gives back what compress/zlib compressed, at
// every level (stored, fixed and dynamic blocks, long and short codes,
// overlapping copies), and refuses a damaged stream without panicking.
func TestInflateZlib(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("ab"), 40000)}
	for _, n := range []int{100, 5000, 70000, 300000} {
		random := make([]byte, n)
		text := make([]byte, n)
		skewed := make([]byte, n)
		for i := range n {
			random[i] = byte(r.Uint32())
			text[i] = "the quick brown fox jumps over a lazy dog /usr/src\n"[r.IntN(51)]
			skewed[i] = byte(min(r.ExpFloat64()*3, 255)) // long codes for rare bytes
		}
		inputs = append(inputs, random, text, skewed)
	}
	for _, in := range inputs {
		for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression, zlib.HuffmanOnly} {
			var b bytes.Buffer
			w, err := zlib.NewWriterLevel(&b, level)
			require.NoError(t, err)
			_, _ = w.Write(in)
			require.NoError(t, w.Close())
			z := b.Bytes()
			got, err := inflateZlib(z, uint64(len(in)))
			require.NoError(t, err, "len %d level %d", len(in), level)
			require.True(t, bytes.Equal(in, got), "len %d level %d", len(in), level)

			_, err = inflateZlib(z, uint64(len(in))+1)
			require.Error(t, err, "a wrong size is refused")
			for range 20 {
				bad := bytes.Clone(z)
				bad[r.IntN(len(bad))] ^= byte(1 + r.IntN(255))
				if got, err := inflateZlib(bad, uint64(len(in))); err == nil {
					require.True(t, bytes.Equal(in, got), "a damaged stream never gives other bytes")
				}
			}
			if len(z) > 8 {
				_, err = inflateZlib(z[:len(z)/2], uint64(len(in)))
				require.Error(t, err)
			}
		}
	}
}
