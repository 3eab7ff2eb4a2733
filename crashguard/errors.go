package crashguard

import (
	"errors"

	"github.com/crashguard/crashguard-go/internal/delivery"
)

// Errors returned by crashguard. Match them with errors.Is.
var (
	// ErrInvalidDSN means the Sentry DSN could not be parsed. Install still
	// installs the crash capture; reports are kept on disk.
	ErrInvalidDSN = errors.New("crashguard: invalid Sentry DSN")
	// ErrDisabled means CRASHGUARD_DISABLE=1 turned Install into a no-op.
	ErrDisabled = errors.New("crashguard: disabled by CRASHGUARD_DISABLE")
	// ErrUnsupported means what was asked cannot be done on this platform or
	// build (for example a darwin-only suppression mode on Linux, or the
	// native layer with cgo off).
	ErrUnsupported = errors.New("crashguard: not supported on this platform")
	// ErrNotDelivered means Flush did not deliver every report: Sentry
	// could not be reached in time, answered with an error, or asked for a
	// pause (the reports stay in the outbox for a later Flush or the next
	// start), or Sentry refused a report for good (400, 413 even after
	// shrinking) and it was moved to the outbox's quarantine/ with the
	// reason.
	ErrNotDelivered = delivery.ErrNotDelivered
	// ErrNoDSN means Flush had reports to send but no DSN to send them to;
	// they stay in the outbox.
	ErrNoDSN = errors.New("crashguard: no Sentry DSN; reports kept on disk")
	// ErrDirUnusable means a directory crashguard needs could not be used:
	// it could not be created or written (read-only, full, not a directory)
	// or it is unsafe (a symbolic link, another user's, writable by others).
	// What still works is on the Guard: Dir is where crashes are captured
	// (the fallback when the configured directory was refused), Layers is
	// empty when nothing could be used, and an unusable outbox/ keeps
	// capturing into runs/ until a later start can deliver.
	ErrDirUnusable = errors.New("crashguard: directory unusable")
)
