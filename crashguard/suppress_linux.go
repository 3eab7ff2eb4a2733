//go:build linux

package crashguard

import (
	"fmt"

	"github.com/crashguard/crashguard-go/internal/native"
	"github.com/crashguard/crashguard-go/internal/osdump"
)

func (g *Guard) suppressPlatform() (undo func() error, err error) {
	saved, err := osdump.Suppress()
	if err != nil {
		return nil, fmt.Errorf("crashguard: suppress core dumps: %w", err)
	}
	// The native handler's _exit covers faults on threads Go did not
	// create; dumpable=0 already stops their core, this also keeps the exit
	// status honest about the report being complete before the end.
	if g.native != nil {
		native.SetSuppressMode(native.SuppressExit)
	}
	return func() error {
		if g.native != nil {
			native.SetSuppressMode(native.SuppressOff)
		}
		return saved.Restore()
	}, nil
}
