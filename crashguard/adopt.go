package crashguard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crashguard/crashguard-go/internal/collector"
	"github.com/crashguard/crashguard-go/internal/outbox"
	"github.com/crashguard/crashguard-go/internal/safedir"
)

// adoptOthers brings what earlier processes left in the other candidate
// directories into this Guard's outbox: a crash captured in the fallback
// while the configured directory was full or refused is delivered by the
// first start that has the configured one back, and the other way round.
// A directory that does not exist costs one Lstat; one that is not safe is
// left alone.
func (g *Guard) adoptOthers(ctx context.Context, all bool) error {
	var errs []error
	for _, dir := range g.s.dirs {
		if dir == g.s.dir {
			continue
		}
		if err := g.adopt(ctx, dir, all); err != nil {
			errs = append(errs, fmt.Errorf("crashguard: collect from %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

func (g *Guard) adopt(ctx context.Context, dir string, all bool) error {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := safedir.CheckBase(real); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(dir, "runs")); err == nil {
		c := &collector.Collector{Runs: filepath.Join(dir, "runs"), Outbox: g.outbox, Logger: g.s.logger, OnEnded: g.ended}
		if err := collectWith(ctx, c, all); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "outbox")); err != nil {
		return nil
	}
	other, err := outbox.Open(filepath.Join(dir, "outbox"), outbox.Options{Logger: g.s.logger})
	if err != nil {
		return err
	}
	entries, err := other.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, g.move(other, e.ID))
	}
	return errors.Join(errs...)
}

// move takes one report from other into this Guard's outbox: durably put
// here first, then removed there under its claim, so a crash in between
// leaves two copies of the same event id (Sentry deduplicates) and never
// none.
func (g *Guard) move(other *outbox.Outbox, id string) error {
	c, err := other.Claim(id)
	if errors.Is(err, outbox.ErrGone) || errors.Is(err, outbox.ErrBusy) || errors.Is(err, outbox.ErrCorrupt) {
		return nil // delivered, being delivered, or quarantined over there
	}
	if err != nil {
		return err
	}
	// ErrFolded: a crash loop's report, counted here instead of kept; it
	// is accounted for, so it goes there too.
	if err := g.outbox.Put(c.Report()); err != nil && !errors.Is(err, outbox.ErrFolded) {
		c.Release()
		return err
	}
	return c.Delivered() // "delivered" to this outbox: removed there
}
