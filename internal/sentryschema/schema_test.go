package sentryschema

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRejectsNonCanonicalAndUnknownFields(t *testing.T) {
	// Guard against a validator that accepts everything: sentry-go's bare
	// exception list must fail, and so must an unknown mechanism key.
	for _, bad := range []string{
		`{"event_id":"0123456789abcdef0123456789abcdef","exception":[{"type":"x"}]}`,
		`{"event_id":"0123456789abcdef0123456789abcdef","exception":{"values":[{"type":"x","mechanism":{"type":"a","signal":{}}}]}}`,
		`{"event_id":"not-a-uuid"}`,
		`{"event_id":"0123456789abcdef0123456789abcdef","debug_meta":{"images":[{"type":"elf","image_addr":"0x1000","bogus":1}]}}`,
		`{"event_id":"0123456789abcdef0123456789abcdef","contexts":{"os":{"name":"Linux","nonsense":true}}}`,
		`not json`,
	} {
		assert.ErrorIs(t, Validate([]byte(bad)), ErrInvalid, bad)
	}
}

func TestAcceptsCanonicalNativeCrash(t *testing.T) {
	ok := `{"event_id":"0123456789abcdef0123456789abcdef","level":"fatal","platform":"native",
	"exception":{"values":[{"type":"SIGSEGV","value":"Segfault at 0x0",
	  "mechanism":{"type":"signalhandler","handled":false,"synthetic":true,
	    "meta":{"signal":{"number":11,"code":1,"name":"SIGSEGV","code_name":"SEGV_MAPERR"}}},
	  "stacktrace":{"frames":[{"instruction_addr":"0x401000","platform":"native"}],"registers":{"rip":"0x401000"}}}]},
	"threads":{"values":[{"id":1,"crashed":true}]},
	"debug_meta":{"images":[{"type":"elf","code_file":"/bin/x","image_addr":"0x400000","image_size":4096,
	  "debug_id":"4247301c-14f1-5421-53a8-a777f6cdb3a2","code_id":"1c304742f114215453a8a777f6cdb3a2b8505e11"}]}}`
	assert.NoError(t, Validate([]byte(ok)))
}
