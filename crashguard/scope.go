package crashguard

import (
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/scopesnap"
)

// startScope starts the background snapshots of the sentry-go global
// hub's scope and of the runtime into the run's scope file
// (internal/scopesnap), which the collector puts into the crash event.
//
// Call it once from Install, after the run has started. It returns at once:
// on Install's path it only reads the runtime settings (scopesnap.Settings,
// under 1 µs, no file read); the file is created, and the cgroup limits read,
// in a goroutine of its own, so that neither the file creation nor a long
// collection pass of earlier runs delays the first snapshot.
func (g *Guard) startScope() {
	if g == nil || g.run == nil || !scopesnap.Supported {
		return
	}
	settings := scopesnap.Settings()
	path := g.run.Path(runfile.ScopeName)
	go func() {
		if _, err := scopesnap.Start(path, scopesnap.DefaultEvery, settings); err != nil {
			g.s.logger.Warn("crashguard: no sentry-go scope snapshots; crash events carry no scope", "err", err)
		}
	}()
}
