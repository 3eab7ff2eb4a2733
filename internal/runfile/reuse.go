package runfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/crashguard/crashguard-go/internal/flightrec"
)

// Bounds of takeOver: it reads at most scanNames names of runs/ (one
// getdents call in practice) and tries at most maxTakeOverTries of the
// runs named there, so a crowded runs/ cannot make Install slow.
const (
	scanNames        = 128
	maxTakeOverTries = 4
)

// takeOver looks for a dead run that ended cleanly (noEvidence) and makes
// it this run: locked, renamed to r's id, its metadata line replaced by
// line. Its flight recorder, if it has one, is renamed to r's too (an
// unused recorder, which flightrec.Create takes over); a suppression
// marker is removed. It returns the locked run file positioned after line,
// or nil when there was no run to take over, and then nothing was changed,
// and the taken-over run's metadata when it parses as that run's.
//
// Two processes never take over the same run: the lock decides, and the
// winner keeps it for its whole life. A run is renamed only while locked
// and after checking that the locked file is still the one at its name (a
// collector or another start may have removed or renamed it meanwhile).
// The run file is renamed before its recorder, so at no time is the new
// run's recorder an orphan that List would remove; the old recorder is one
// for a moment, and if a collector removes it then, Install creates a new
// one.
func (r *Run) takeOver(line []byte) (*os.File, *Meta) {
	if !canRenameOpen {
		return nil, nil
	}
	d, err := os.Open(r.Runs)
	if err != nil {
		return nil, nil
	}
	names, _ := d.Readdirnames(scanNames)
	_ = d.Close()
	tries := 0
	for _, name := range names {
		id, ok := strings.CutSuffix(name, RunExt)
		if !ok || !ValidID(id) || id == r.ID {
			continue
		}
		if tries++; tries > maxTakeOverTries {
			break
		}
		if f, prev := r.tryTakeOver(id, line); f != nil {
			return f, prev
		}
	}
	return nil, nil
}

func (r *Run) tryTakeOver(id string, line []byte) (*os.File, *Meta) {
	old := &Dead{ID: id, Runs: r.Runs}
	f, err := os.OpenFile(old.file(), os.O_RDWR|noFollow|nonBlock, 0)
	if err != nil {
		return nil, nil
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || lockFile(f, true) != nil {
		return nil, nil // alive, being collected, or not ours
	}
	// Still the file at that name: not removed or taken over by whoever
	// held the lock before us.
	if li, err := os.Lstat(old.file()); err != nil || !os.SameFile(fi, li) {
		return nil, nil
	}
	old.f = f
	oldLine, clean := old.noEvidence()
	if !clean {
		return nil, nil // the collector's: a crash, or damage to quarantine
	}
	if err := os.Rename(old.file(), r.file()); err != nil {
		return nil, nil
	}
	// From here on the file is this run's, whatever else fails.
	ok = true
	if err := os.Rename(old.Path(FlightName), r.Path(FlightName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		removeRegular(old.Path(FlightName))
	}
	removeRegular(old.Path(SuppressedName))
	// The scope file too is taken over (scopesnap.Start resets it): a
	// rename costs a tenth of unlinking its allocated blocks (33 against
	// 336 µs on ext4 here).
	if err := os.Rename(old.Path(ScopeName), r.Path(ScopeName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		removeRegular(old.Path(ScopeName))
	}
	_, err = f.Seek(0, io.SeekStart)
	if err == nil {
		_, err = f.Write(line)
	}
	if err == nil {
		err = f.Truncate(int64(len(line)))
	}
	if err != nil {
		// A run file that cannot be rewritten is no use to anyone: give
		// it up (this run then starts in a new file).
		_ = f.Close()
		_ = os.Remove(r.file())
		removeRegular(r.Path(FlightName))
		removeRegular(r.Path(ScopeName))
		return nil, nil
	}
	return f, sessionMeta(oldLine, id)
}

// NoEvidence reports whether the run ended without leaving any evidence of
// a crash, told without parsing anything: its run file is exactly one
// metadata line naming this run (no crash output after it, no NUL bytes,
// the form Start writes), and its flight recorder is missing or one in
// which no record was ever claimed (flightrec.Unused, which reads only the
// header). Such a run is a clean end (return, os.Exit, SIGKILL, recovered
// panics) and can be removed or taken over at once. False means the run
// must be collected the full way (Build): it may hold a crash, or damage.
func (d *Dead) NoEvidence() bool {
	_, ok := d.noEvidence()
	return ok
}

// noEvidence is NoEvidence that also returns the metadata line it read.
func (d *Dead) noEvidence() (line []byte, ok bool) {
	st, err := d.f.Stat()
	if err != nil || st.Size() == 0 || st.Size() > maxMetaSize {
		return nil, false
	}
	b := make([]byte, st.Size())
	if n, err := d.f.ReadAt(b, 0); n != len(b) && err != nil {
		return nil, false
	}
	prefix := `{"run_id":"` + d.ID + `"`
	if !bytes.HasPrefix(b, []byte(prefix)) || !bytes.HasSuffix(b, []byte("}\n")) ||
		bytes.IndexByte(b, '\n') != len(b)-1 || bytes.IndexByte(b, 0) >= 0 {
		return nil, false
	}
	unused, err := flightrec.Unused(d.Path(FlightName))
	return b, unused || errors.Is(err, fs.ErrNotExist)
}

// CleanEnd is NoEvidence that also returns the run's metadata when the run
// is a Release Health session (Meta.Session), for whoever ends it; nil for
// any other run, or a line that does not parse as this run's.
func (d *Dead) CleanEnd() (*Meta, bool) {
	line, ok := d.noEvidence()
	if !ok {
		return nil, false
	}
	return sessionMeta(line, d.ID), true
}

// sessionKey is how appendMeta writes Meta.Session: a line without it is no
// session, and is not parsed (json.Unmarshal's first use would cost the
// start that takes the run over a few hundred microseconds).
var sessionKey = []byte(`,"session":{`)

// sessionMeta is parseMeta for a run that is a session; nil otherwise.
func sessionMeta(line []byte, id string) *Meta {
	if !bytes.Contains(line, sessionKey) {
		return nil
	}
	return parseMeta(line, id)
}

// parseMeta parses a metadata line; nil unless it names run id.
func parseMeta(line []byte, id string) *Meta {
	var m Meta
	if json.Unmarshal(line, &m) != nil || m.RunID != id {
		return nil
	}
	return &m
}
