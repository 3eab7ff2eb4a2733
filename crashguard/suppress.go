package crashguard

import (
	"sync"

	"github.com/crashguard/crashguard-go/internal/osdump"
)

// suppressionState is what SuppressOSCrashReports switched, to switch it back.
type suppressionState struct {
	mu    sync.Mutex
	on    bool
	saved *osdump.Saved
}

// applySuppression is a placeholder until the native hook lands.
func (g *Guard) applySuppression(on bool) error { return nil }
