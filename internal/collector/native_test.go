package collector

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

func TestNativeFatal(t *testing.T) {
	const (
		mach   = flightrec.FlagFromMach
		signal = flightrec.FlagFromSignal
		fatal  = flightrec.FlagFatal
		goCode = flightrec.FlagGoCode
	)
	rec := func(seq, tid uint64, f flightrec.Flags) flightrec.Record {
		return flightrec.Record{Seq: seq, ThreadID: tid, Flags: f}
	}
	cases := []struct {
		name    string
		records []flightrec.Record
		want    int // index of the fatal record, -1 for none
	}{
		{"no records", nil, -1},
		{"handler marked fatal", []flightrec.Record{rec(1, 7, signal|fatal)}, 0},
		{"merged and recovered", []flightrec.Record{rec(1, 7, mach|signal)}, -1},
		{"merged, handler marked fatal", []flightrec.Record{rec(1, 7, mach|signal|fatal)}, 0},
		{"merged fatal over an older Mach-only", []flightrec.Record{rec(1, 8, mach), rec(2, 7, mach|signal|fatal)}, 1},
		{"Mach only, thread never ran again", []flightrec.Record{rec(1, 7, mach)}, 0},
		{"Mach only in Go code", []flightrec.Record{rec(1, 7, mach|goCode)}, -1},
		{"Mach only, the thread faulted again later", []flightrec.Record{rec(1, 7, mach), rec(2, 7, mach|signal)}, -1},
		{"Mach only, another thread went on", []flightrec.Record{rec(1, 7, mach), rec(2, 8, mach|signal)}, 0},
		{"Mach only torn", []flightrec.Record{{Seq: 1, ThreadID: 7, Flags: mach, Incomplete: true}}, -1},
		{"newest fatal wins", []flightrec.Record{rec(1, 7, signal|fatal), rec(2, 8, signal|fatal)}, 1},
	}
	for _, c := range cases {
		n := &nativeEvidence{file: &flightrec.File{Records: c.records}}
		got := n.fatal()
		if c.want < 0 {
			assert.Nil(t, got, c.name)
			continue
		}
		assert.Same(t, &n.file.Records[c.want], got, c.name)
	}
}
