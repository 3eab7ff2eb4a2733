package traceback

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkParse10kGoroutines parses a crash of a program with 10,000
// goroutines, built from real goroutine blocks of testdata (renumbered and
// repeated): "all" from a GOTRACEBACK=all crash with goroutines in many
// wait states, "system" from GOTRACEBACK=system blocks, which add
// fp=/sp=/pc= to every frame and print the runtime's frames.
func BenchmarkParse10kGoroutines(b *testing.B) {
	for _, tc := range []struct{ name, file string }{
		{"all", "go1.26/panic_states.all.crash.txt"},
		{"system", "go1.26/map_writes.system.crash.txt"},
	} {
		in := synthesize(b, readTestdata(b, tc.file), 10000)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := Parse(in)
				if err != nil || len(r.Goroutines) != 10000 {
					b.Fatal(err, len(r.Goroutines))
				}
			}
		})
	}
}

var goroutineHeader = regexp.MustCompile(`(?m)^goroutine [0-9]+ `)

// synthesize keeps the header and the crashed goroutine of a real crash
// output and appends the other goroutine blocks over and over, with fresh
// ids, until there are n goroutines.
func synthesize(tb testing.TB, real []byte, n int) []byte {
	var head, others [][]byte
	for _, blk := range bytes.Split(real, []byte("\n\n")) {
		switch {
		case others == nil && (len(head) == 0 || !goroutineHeader.Match(head[len(head)-1])):
			head = append(head, blk) // up to the crashed goroutine
			if goroutineHeader.Match(blk) {
				others = [][]byte{}
			}
		case goroutineHeader.Match(blk):
			others = append(others, blk)
		}
	}
	require.NotEmpty(tb, others)
	var out bytes.Buffer
	out.Write(bytes.Join(head, []byte("\n\n")))
	for i := 1; i < n; i++ {
		blk := others[i%len(others)]
		blk = goroutineHeader.ReplaceAll(blk, []byte(fmt.Sprintf("goroutine %d ", 100+i)))
		out.WriteString("\n\n")
		out.Write(blk)
	}
	out.WriteString("\n")
	return out.Bytes()
}
