package crashguard

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goBlock is a fenced Go code block of the README.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestREADMEGoBlocksAreCompiledExamples holds every Go block of the README
// to be, byte for byte, a program under examples/ or a part of one, which
// go vet and the build compile (and the tests run): what a user copies is
// what is tested.
func TestREADMEGoBlocksAreCompiledExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	examples := map[string]string{} // program without its doc comment -> file
	files, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		examples[withoutDocComment(string(b))] = f
	}
	blocks := goBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "the README has a Usage block")
	for _, b := range blocks {
		code := string(b[1])
		if strings.HasPrefix(code, "package ") {
			assert.Contains(t, examples, code,
				"this README program is not an example under examples/ (without its doc comment):\n%s", code)
			continue
		}
		// A fragment (a function, say) must be, line for line, part of an
		// example program, so that it is compiled as shown.
		found := false
		for src := range examples {
			found = found || strings.Contains(src, code)
		}
		assert.True(t, found, "this README Go fragment is not part of any example under examples/:\n%s", code)
	}
}

// withoutDocComment drops the comment lines that open a Go file: the
// README shows the program, not the note on where it is kept.
func withoutDocComment(src string) string {
	for strings.HasPrefix(src, "//") {
		_, src, _ = strings.Cut(src, "\n")
	}
	return src
}
