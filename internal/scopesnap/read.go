package scopesnap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/crashguard/crashguard-go/internal/report"
)

// defaultMaxBreadcrumbs is sentry-go's default MaxBreadcrumbs.
const defaultMaxBreadcrumbs = 100

// Read reads the scope file of a dead run at path: the newest complete
// scope snapshot merged with the ring's breadcrumbs, and the runtime
// settings and last sample. A missing file is (nil, nil, nil). A file that
// is not a scope file of this layout (another size, a bad header, a link,
// not a regular file) is an error and gives nothing; within a good file,
// each slot that is torn or damaged is skipped (the other slot, or
// nothing, is used), never read as data.
func Read(path string) (*report.Scope, *report.Runtime, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("scopesnap: open: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != FileSize {
		return nil, nil, fmt.Errorf("scopesnap: %s is not a scope file", path)
	}
	b := make([]byte, FileSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, fmt.Errorf("scopesnap: read: %w", err)
	}
	sc, rt := decode(mem(b))
	if sc == nil && rt == nil {
		return nil, nil, fmt.Errorf("scopesnap: %s holds no complete snapshot", path)
	}
	return sc, rt, nil
}

// decode reads a whole scope file's bytes.
func decode(m mem) (*report.Scope, *report.Runtime) {
	if !m.headerOK() {
		return nil, nil
	}
	var rt *report.Runtime
	if js := m.settings(); js != nil {
		var s report.RuntimeSettings
		if json.Unmarshal(js, &s) == nil {
			rt = &report.Runtime{Settings: &s}
		}
	}
	if _, p := m.newest(metricsOff, metricsSlotSize); p != nil {
		var s report.RuntimeSample
		if json.Unmarshal(p, &s) == nil {
			if rt == nil {
				rt = &report.Runtime{}
			}
			rt.Sample = &s
		}
	}
	var sc *report.Scope
	if seq, p := m.newest(scopeOff, scopeSlotSize); p != nil {
		if s, err := decodeScope(p); err == nil {
			s.Seq = seq
			s.Taken = s.Written
			if at := m.checked(seq); at > s.Written.UnixNano() {
				s.Taken = time.Unix(0, at).UTC()
			}
			sc = s
		}
	}
	var ring []ringBreadcrumb
	for _, p := range m.ringEntriesRead() {
		if b, cut, ok := decodeCrumb(p); ok {
			ring = append(ring, ringBreadcrumb{b, cut})
		}
	}
	if len(ring) > 0 {
		if sc == nil {
			sc = &report.Scope{}
		}
		mergeBreadcrumbs(sc, ring)
	}
	return sc, rt
}

// ringBreadcrumb is a ring entry read back; cut says it lost its data or
// the end of its message to fit the entry.
type ringBreadcrumb struct {
	b   report.Breadcrumb
	cut bool
}

// mergeBreadcrumbs puts the ring's breadcrumbs (exact, recorded as they
// were added) together with the snapshot's (up to a look old): one of each
// breadcrumb, told by time, type and category (the time is set once, by
// AddBreadcrumb, for both) — the ring's when both have it, unless the
// ring's was cut to fit its entry —, oldest first, at most MaxBreadcrumbs,
// as sentry-go's scope would have held them.
func mergeBreadcrumbs(sc *report.Scope, ring []ringBreadcrumb) {
	type key struct {
		ts            int64
		typ, category string
	}
	k := func(b *report.Breadcrumb) key {
		return key{b.Timestamp.UnixNano(), b.Type, b.Category}
	}
	inRing := make(map[key]bool, len(ring))
	for i := range ring {
		inRing[k(&ring[i].b)] = !ring[i].cut
	}
	inSnap := make(map[key]bool, len(sc.Breadcrumbs))
	for i := range sc.Breadcrumbs {
		inSnap[k(&sc.Breadcrumbs[i])] = true
	}
	type crumb struct {
		b    report.Breadcrumb
		ring bool
	}
	all := make([]crumb, 0, len(sc.Breadcrumbs)+len(ring))
	for _, b := range sc.Breadcrumbs {
		if !inRing[k(&b)] { // not in the ring, or cut there
			all = append(all, crumb{b: b})
		}
	}
	for _, r := range ring {
		if !r.cut || !inSnap[k(&r.b)] {
			all = append(all, crumb{b: r.b, ring: true})
		}
	}
	slices.SortStableFunc(all, func(a, b crumb) int {
		return a.b.Timestamp.Compare(b.b.Timestamp)
	})
	limit := sc.MaxBreadcrumbs
	if limit <= 0 {
		limit = defaultMaxBreadcrumbs
	}
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	sc.Breadcrumbs = make([]report.Breadcrumb, len(all))
	sc.RingBreadcrumbs = 0
	for i, c := range all {
		sc.Breadcrumbs[i] = c.b
		if c.ring {
			sc.RingBreadcrumbs++
		}
	}
}
