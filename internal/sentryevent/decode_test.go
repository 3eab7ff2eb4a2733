package sentryevent

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The t* types decode the event JSON the way the tests look at it: only the
// canonical forms ({"values": [...]}) decode, so a regression to sentry-go's
// bare lists fails loudly.

type tEvent struct {
	EventID     string                         `json:"event_id"`
	Timestamp   string                         `json:"timestamp"`
	Level       string                         `json:"level"`
	Platform    string                         `json:"platform"`
	Release     string                         `json:"release"`
	Environment string                         `json:"environment"`
	ServerName  string                         `json:"server_name"`
	Dist        string                         `json:"dist"`
	Tags        map[string]string              `json:"tags"`
	Modules     map[string]string              `json:"modules"`
	Sdk         struct{ Name, Version string } `json:"sdk"`
	Contexts    map[string]map[string]any      `json:"contexts"`
	Exception   struct {
		Values []tException `json:"values"`
	} `json:"exception"`
	Threads *struct {
		Values []tThread `json:"values"`
	} `json:"threads"`
	DebugMeta *struct {
		Images []map[string]any `json:"images"`
	} `json:"debug_meta"`
}

type tException struct {
	Type       string      `json:"type"`
	Value      string      `json:"value"`
	ThreadID   json.Number `json:"thread_id"`
	Mechanism  tMechanism  `json:"mechanism"`
	Stacktrace *tStack     `json:"stacktrace"`
}

type tMechanism struct {
	Type             string         `json:"type"`
	Handled          *bool          `json:"handled"`
	Synthetic        *bool          `json:"synthetic"`
	Data             map[string]any `json:"data"`
	ExceptionID      *int           `json:"exception_id"`
	ParentID         *int           `json:"parent_id"`
	IsExceptionGroup *bool          `json:"is_exception_group"`
	Source           string         `json:"source"`
	Meta             *struct {
		Signal        *tSignal `json:"signal"`
		MachException *tMach   `json:"mach_exception"`
	} `json:"meta"`
}

type tSignal struct {
	Number   *int   `json:"number"`
	Code     int64  `json:"code"`
	Name     string `json:"name"`
	CodeName string `json:"code_name"`
}

type tMach struct {
	Exception int    `json:"exception"`
	Code      uint64 `json:"code"`
	Subcode   uint64 `json:"subcode"`
	Name      string `json:"name"`
}

type tStack struct {
	Frames    []tFrame          `json:"frames"`
	Registers map[string]string `json:"registers"`
}

type tFrame struct {
	Function        string `json:"function"`
	Module          string `json:"module"`
	Package         string `json:"package"`
	Filename        string `json:"filename"`
	AbsPath         string `json:"abs_path"`
	Lineno          int    `json:"lineno"`
	InApp           *bool  `json:"in_app"`
	InstructionAddr string `json:"instruction_addr"`
	Platform        string `json:"platform"`
}

type tThread struct {
	// ID is any so that the test can insist on a JSON number.
	ID         any     `json:"id"`
	Name       string  `json:"name"`
	Crashed    bool    `json:"crashed"`
	Current    bool    `json:"current"`
	Stacktrace *tStack `json:"stacktrace"`
}

func decodeEvent(t *testing.T, b []byte) tEvent {
	t.Helper()
	var ev tEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&ev), "%s", b)
	return ev
}

// frameNames summarizes frames as "module.function" (Go) or
// "native:function@addr" (native), oldest first as in the event.
func frameNames(st *tStack) []string {
	if st == nil {
		return nil
	}
	var out []string
	for _, f := range st.Frames {
		if f.Platform == "native" {
			out = append(out, "native:"+f.Function+"@"+f.InstructionAddr)
			continue
		}
		name := f.Function
		if f.Module != "" {
			name = f.Module + "." + name
		}
		out = append(out, name)
	}
	return out
}

func inApps(st *tStack) []bool {
	var out []bool
	for _, f := range st.Frames {
		out = append(out, f.InApp != nil && *f.InApp)
	}
	return out
}
