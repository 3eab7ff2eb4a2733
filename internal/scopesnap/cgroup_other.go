//go:build !linux

package scopesnap

import "github.com/crashguard/crashguard-go/internal/report"

// readCgroup: cgroups are Linux's.
func readCgroup() *report.Cgroup { return nil }
