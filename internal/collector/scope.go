package collector

import (
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/scopesnap"
)

// readScope adds what the run's scope file holds (internal/scopesnap): the
// last complete snapshot of the sentry-go scope with the ring's
// breadcrumbs, and the runtime settings and last sample. The file is
// context, not evidence: a missing or damaged one adds nothing and never
// stops the report (a torn slot is skipped by scopesnap.Read, never read as
// data).
func readScope(d *runfile.Dead, r *report.Report) {
	sc, rt, err := scopesnap.Read(d.Path(runfile.ScopeName))
	if err != nil {
		return
	}
	r.Scope, r.Runtime = sc, rt
}
