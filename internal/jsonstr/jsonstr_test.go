package jsonstr

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendReadsBackAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rret", "\x00\x01\x1f ctl",
		"<html> & stays", "line\u2028sep\u2029para", "bad \xff utf8", "héllo, 世界", "emoji 🙂",
	} {
		got := Append([]byte("x"), s)
		require.Equal(t, byte('x'), got[0], "appends to dst")
		var back string
		require.NoError(t, json.Unmarshal(got[1:], &back), "%q -> %s", s, got[1:])
		want, _ := json.Marshal(s)
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		assert.Equal(t, wantBack, back, "%q", s)
	}
	assert.Equal(t, `"a\"b\u0001<"`, string(Append(nil, "a\"b\x01<")))
}
