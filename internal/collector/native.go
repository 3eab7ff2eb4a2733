package collector

import (
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
)

// nativeEvidence is what the flight recorder of a run holds.
type nativeEvidence struct{}

func readNative(d *runfile.Dead) (*nativeEvidence, error) { return &nativeEvidence{}, nil }

func (n *nativeEvidence) fatal() *report.NativeFault { return nil }

func (n *nativeEvidence) merge(r *report.Report) {}
