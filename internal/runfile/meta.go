package runfile

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

// maxMetaSize caps how much of meta.json is read: it is a few KiB at most,
// anything larger is not ours.
const maxMetaSize = 1 << 20

// Meta is what a process says about itself at Install, for the report that a
// later process may have to write about it.
type Meta struct {
	RunID     string         `json:"run_id"`
	EventID   string         `json:"event_id"`
	PID       int            `json:"pid"`
	StartTime time.Time      `json:"start_time"`
	Process   report.Process `json:"process"`
	// FatalStrings are the addresses of the runtime's fatal error texts in
	// this process (traceback.FatalStrings): the crash output prints them as
	// the thrower's first argument, which names the exact fatal error that
	// the output itself leaves out.
	FatalStrings map[uint64]string `json:"fatal_strings,omitempty"`
	// FlightRecorder is true when the native layer was asked to record.
	FlightRecorder bool `json:"flight_recorder,omitempty"`
}

func writeMeta(path string, m *Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("runfile: encode meta: %w", err)
	}
	f, err := openExclusive(path)
	if err != nil {
		return err
	}
	// No fsync: if the machine (not the process) dies, the run is lost with
	// it anyway, and Install must stay cheap. The page cache outlives the
	// process, which is what matters here.
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("runfile: write meta: %w", err)
	}
	return f.Close()
}

func readMeta(path string) (*Meta, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("runfile: open meta: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize))
	if err != nil {
		return nil, fmt.Errorf("runfile: read meta: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("runfile: decode meta: %w", err)
	}
	return &m, nil
}
