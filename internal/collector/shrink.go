package collector

import "github.com/crashguard/crashguard-go/internal/report"

// shrinkKeepGoroutines is how many goroutines a shrunk report keeps besides
// the crashed one: enough to see what the program was doing.
const shrinkKeepGoroutines = 100

// shrink makes a report that is too large for the outbox smaller, one step
// at a time, dropping first what Sentry needs least. It returns false when
// there is nothing left to drop. A smaller report beats a lost one.
func shrink(r *report.Report, step int) bool {
	switch step {
	case 0: // the raw output: keep its head, where the panic and crashed goroutine are
		if len(r.CrashOutput) > 1<<20 {
			r.CrashOutput = r.CrashOutput[:1<<20]
			r.CrashOutputTruncated = true
			return true
		}
		return shrink(r, step+1)
	case 1: // other goroutines beyond the first hundred
		if len(r.Goroutines) > shrinkKeepGoroutines+1 {
			kept := make([]report.Goroutine, 0, shrinkKeepGoroutines+1)
			for _, g := range r.Goroutines {
				if g.Crashed || len(kept) < shrinkKeepGoroutines {
					kept = append(kept, g)
				}
			}
			r.Goroutines = kept
			return true
		}
		return shrink(r, step+1)
	case 2: // every goroutine but the crashed one, and the raw output
		var kept []report.Goroutine
		for _, g := range r.Goroutines {
			if g.Crashed {
				kept = append(kept, g)
			}
		}
		r.Goroutines = kept
		r.CrashOutput = ""
		return true
	}
	return false
}
