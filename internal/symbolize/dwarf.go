package symbolize

import (
	"debug/dwarf"
	"errors"
	"path"
	"sort"
)

// dwarfLines answers file and line for native code from DWARF line
// tables. Go code never comes here: the pc-line table is exact and cheaper.
type dwarfLines struct {
	d      *dwarf.Data
	units  []unitRange // sorted by low
	byUnit map[dwarf.Offset]*dwarf.LineReader
}

// unitRange is one address range of a compilation unit.
type unitRange struct {
	low, high uint64
	unit      *dwarf.Entry
}

// newDWARFLines indexes the address ranges of every compilation unit, so
// that a lookup reads only the line program of the unit that holds addr.
func newDWARFLines(d *dwarf.Data) (*dwarfLines, error) {
	l := &dwarfLines{d: d, byUnit: map[dwarf.Offset]*dwarf.LineReader{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			ranges, err := d.Ranges(e)
			if err == nil {
				for _, rg := range ranges {
					if rg[1] > rg[0] {
						l.units = append(l.units, unitRange{low: rg[0], high: rg[1], unit: e})
					}
				}
			}
		}
		r.SkipChildren()
	}
	if len(l.units) == 0 {
		return nil, errors.New("no compilation unit has an address range")
	}
	sort.Slice(l.units, func(i, j int) bool { return l.units[i].low < l.units[j].low })
	return l, nil
}

func (l *dwarfLines) lookup(addr uint64) (string, int, bool) {
	i := sort.Search(len(l.units), func(i int) bool { return l.units[i].low > addr }) - 1
	if i < 0 || addr >= l.units[i].high {
		return "", 0, false
	}
	cu := l.units[i].unit
	lr, ok := l.byUnit[cu.Offset]
	if !ok {
		var err error
		lr, err = l.d.LineReader(cu)
		if err != nil {
			lr = nil
		}
		l.byUnit[cu.Offset] = lr
	}
	if lr == nil {
		return "", 0, false
	}
	var le dwarf.LineEntry
	if err := lr.SeekPC(addr, &le); err != nil || le.File == nil || le.Line <= 0 {
		return "", 0, false
	}
	name := le.File.Name
	if !path.IsAbs(name) {
		// The line table names files relative to the compilation
		// directory when the compiler was given a relative path.
		if dir, ok := cu.Val(dwarf.AttrCompDir).(string); ok && path.IsAbs(dir) {
			name = path.Join(dir, name)
		}
	}
	return name, le.Line, true
}
