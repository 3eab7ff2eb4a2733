package sessions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crashguard/crashguard-go/internal/safedir"
)

// The spool is a directory of crashguard's own names only:
//
//   - logName: ended sessions, one JSON line each, appended by Record
//     under a shared flock (one write: a line is far below the size the
//     kernel appends in one piece);
//   - batchPrefix*batchExt: a log a sender took over (renamed) to send;
//     removed once sent, rewritten with what is left when only part was;
//   - .lock: held by the one process sending.
//
// A sender renames the log before reading it and then takes its flock
// exclusively, which waits for a writer that opened the log before the
// rename to finish its line; a writer that locks after the rename sees
// that its file is no longer the log (fstat against lstat) and appends to
// the new one. So no line is written where nobody reads it.
const (
	logName     = "ended.log"
	batchPrefix = "sending-"
	batchExt    = ".log"
	// maxFile caps what is read of one log or batch (about 30,000 ends).
	maxFile = 8 << 20
	// recordTries bounds Record's wait for a sender reading the log: a
	// sender holds the log's lock only while it reads it (milliseconds);
	// one that stopped while holding it costs a Record at most this many
	// tries of recordPause, and the session, never a hang.
	recordTries = 20
	recordPause = time.Millisecond
)

// errBusy: the log stayed locked by a sender for all of Record's tries.
var errBusy = errors.New("sessions: spool busy")

// ErrFull means the log already holds maxFile bytes (about 30,000 ends
// nobody could send: months without Sentry): the end is not counted, and
// says so, rather than written where no reader would get to it.
var ErrFull = errors.New("sessions: spool full")

// Spool is the directory of ended sessions waiting to be sent.
type Spool struct{ dir string }

// Open opens (creating it 0700 when missing) the spool in dir, which must
// be safe as crashguard's other directories are (safedir.Ensure).
func Open(dir string) (*Spool, error) {
	if err := safedir.Ensure(dir); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return &Spool{dir: dir}, nil
}

// Record appends e's end to the log. A session without a release cannot
// be sent (Sentry requires one) and is not recorded: it returns nil. No
// fsync: a power cut may lose the newest lines; a line cut short is skipped
// by the reader.
func (s *Spool) Record(e Ended) error {
	if e.Release == "" {
		return nil
	}
	if e.Status != Exited && e.Status != Crashed {
		return fmt.Errorf("sessions: status %q", e.Status)
	}
	if e.RunID == "" {
		return errors.New("sessions: no run id")
	}
	if e.Recorded.IsZero() {
		e.Recorded = time.Now()
	}
	line := append(appendEnded(make([]byte, 0, 256), &e), '\n')
	path := filepath.Join(s.dir, logName)
	for try := 0; try < recordTries; try++ {
		f, err := openAppend(path)
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		locked := lockShared(f)
		if locked && stillAt(f, path) {
			if fi, err := f.Stat(); err == nil && fi.Size()+int64(len(line)) > maxFile {
				_ = f.Close()
				return ErrFull
			}
			_, err = f.Write(line)
			_ = f.Close()
			if err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			return nil
		}
		_ = f.Close()
		if !locked {
			time.Sleep(recordPause)
		}
	}
	return errBusy
}

// stillAt reports whether f is the file at path (not renamed away).
func stillAt(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	li, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, li)
}

// entry is a spooled session and the batch it came from.
type entry struct {
	Ended
	batch string
}

// claim renames the log to a new batch, if there is a log, and returns
// every batch to send, oldest first, each once no writer is in it.
func (s *Spool) claim(now time.Time) ([]string, error) {
	log := filepath.Join(s.dir, logName)
	if fi, err := os.Lstat(log); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		batch := filepath.Join(s.dir, batchPrefix+strconv.FormatInt(now.UnixNano(), 10)+"-"+strconv.Itoa(os.Getpid())+batchExt)
		if err := os.Rename(log, batch); err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
	}
	return s.batches()
}

// batches lists the batch files, oldest first (their names sort by time).
func (s *Spool) batches() ([]string, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	var out []string
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, batchPrefix) && strings.HasSuffix(n, batchExt) && de.Type().IsRegular() {
			out = append(out, filepath.Join(s.dir, n))
		}
	}
	return out, nil
}

// readFile reads the ended sessions in one log or batch. With exclusive
// set it first waits (bounded) for writers that opened it before it was
// renamed. Lines that do not parse (a power cut's NULs, a line cut short)
// are skipped: a count is not worth a quarantine.
func readFile(path string, exclusive bool) ([]entry, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if exclusive {
		lockExclusive(f)
	}
	var out []entry
	r := bufio.NewReaderSize(io.LimitReader(f, maxFile), maxRecord)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A run of maxRecord bytes without a newline (a power cut's
			// NUL blocks) is no session: skip to its end, keep reading.
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				return out, nil
			}
			continue
		}
		var e Ended
		if line = bytes.TrimSpace(line); len(line) > 0 && json.Unmarshal(line, &e) == nil && complete(e) {
			out = append(out, entry{Ended: e, batch: path})
		}
		if err != nil {
			return out, nil // EOF, or the cap: what was read counts
		}
	}
}

func complete(e Ended) bool {
	return e.RunID != "" && e.Release != "" && (e.Status == Exited || e.Status == Crashed) && !e.Started.IsZero()
}

// pending reads every spooled session without claiming anything (Due).
func (s *Spool) pending() []entry {
	var out []entry
	paths, _ := s.batches()
	for _, p := range append(paths, filepath.Join(s.dir, logName)) {
		es, _ := readFile(p, false)
		out = append(out, es...)
	}
	return out
}

// Batching: a start or a Flush sends spooled sessions only when they are
// due, so a short-lived program does not cost a request per run; the
// monitor and the crashguard command send whatever is spooled.
const (
	// BatchSize spooled sessions are due at once.
	BatchSize = 25
	// BatchAge is how long the oldest spooled session waits for others:
	// about what sentry-javascript's session flusher waits (60 s) for a
	// long-lived process, stretched for programs that run now and then.
	BatchAge = 10 * time.Minute
)

// Due reports whether the spool should be sent now: it holds a crashed
// session (its crash event is on its way too), BatchSize sessions, or one
// recorded BatchAge ago or earlier. An empty or missing spool is never due.
func (s *Spool) Due(now time.Time) bool {
	es := s.pending()
	if len(es) >= BatchSize {
		return true
	}
	for _, e := range es {
		if e.Status == Crashed || now.Sub(e.Recorded) >= BatchAge {
			return true
		}
	}
	return false
}

// rewrite replaces the batches with new ones holding left (none when left
// is empty), each at most maxFile bytes so that a reader gets all of it.
// The new batches are complete under their names before the old ones go;
// a crash in between leaves a session in two batches, which the next pass
// sends once (entries are told apart by run id).
func (s *Spool) rewrite(batches []string, left []entry, now time.Time) error {
	prefix := filepath.Join(s.dir, batchPrefix+strconv.FormatInt(now.UnixNano(), 10)+"-"+strconv.Itoa(os.Getpid())+"-left")
	var b []byte
	n := 0
	flush := func() error {
		if len(b) == 0 {
			return nil
		}
		name := prefix + strconv.Itoa(n) + batchExt
		n++
		tmp := name + "-tmp" // one sender at a time (the spool's lock)
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		if err := os.Rename(tmp, name); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("sessions: %w", err)
		}
		b = b[:0]
		return nil
	}
	var line []byte
	for i := range left {
		line = append(appendEnded(line[:0], &left[i].Ended), '\n')
		if len(b)+len(line) > maxFile {
			if err := flush(); err != nil {
				return err
			}
		}
		b = append(b, line...)
	}
	if err := flush(); err != nil {
		return err
	}
	for _, p := range batches {
		_ = os.Remove(p)
	}
	return nil
}
