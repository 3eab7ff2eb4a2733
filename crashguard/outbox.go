package crashguard

import (
	"errors"
	"log/slog"

	"github.com/crashguard/crashguard-go/internal/outbox"
)

// outboxStore is the outbox as the Guard uses it. Its Put (lastrun.go)
// notes every crash it stores for LastRun, whoever collects it.
type outboxStore struct{ *outbox.Outbox }

func openOutbox(dir string, logger *slog.Logger, o Options) (*outboxStore, error) {
	ob, err := outbox.Open(dir, outbox.Options{
		Logger:     logger,
		MaxReports: o.MaxReports, MaxBytes: o.MaxOutboxBytes, MaxAge: o.MaxReportAge,
		LoopWindow: o.CrashLoopWindow, LoopFull: o.CrashLoopFull,
	})
	if err != nil {
		return nil, err
	}
	return &outboxStore{ob}, nil
}

func (o outboxStore) count() (int, error) {
	entries, err := o.List()
	return len(entries), err
}

// pending loads every report in the outbox. A report that cannot be loaded
// has been quarantined by Load and is left out; one that another process is
// delivering right now is still listed from its state on disk.
func (o outboxStore) pending() ([]Report, error) {
	entries, err := o.List()
	if err != nil {
		return nil, err
	}
	var (
		out  []Report
		errs []error
	)
	for _, e := range entries {
		r, err := o.Load(e.ID)
		switch {
		case errors.Is(err, outbox.ErrGone), errors.Is(err, outbox.ErrBusy):
			continue
		case errors.Is(err, outbox.ErrCorrupt):
			// Already quarantined with its reason and logged by the outbox:
			// a broken file is not the caller's error.
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		s := summarize(r)
		s.Attempts = e.State.Attempts
		s.LastError = e.State.LastError
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}
