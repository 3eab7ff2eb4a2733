package collector

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/report"
	"github.com/crashguard/crashguard-go/internal/runfile"
	"github.com/crashguard/crashguard-go/internal/signals"
	"github.com/crashguard/crashguard-go/internal/symbolize"
)

// maxRecorderSize caps how much of a flight recorder file is read; the
// default recorder is well under 100 KiB.
const maxRecorderSize = 16 << 20

// nativeEvidence is what the flight recorder of a run holds.
type nativeEvidence struct {
	file *flightrec.File
}

func readNative(d *runfile.Dead) (*nativeEvidence, error) {
	path := d.Path(runfile.FlightName)
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &nativeEvidence{}, nil // cgo off, or the native layer was not installed
	}
	if err != nil {
		return nil, fmt.Errorf("collector: flight recorder: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxRecorderSize {
		// Not ours: ignore it rather than fail the Go-level report.
		return &nativeEvidence{}, nil
	}
	f, err := flightrec.ReadFile(path)
	if err != nil {
		// A recorder that cannot be decoded holds no usable evidence; the
		// crash output (if any) still makes the report.
		return &nativeEvidence{}, nil
	}
	return &nativeEvidence{file: f}, nil
}

// fatal returns the record that says the process died of a native fault:
// the newest record the handler marked fatal, or (darwin) a Mach record
// whose signal never came, which means the thread could not even take a
// signal frame. nil when there is none.
//
// A Mach record without a signal is taken as fatal only when nothing says
// the thread went on: it must be the newest record of its thread (a later
// record means the thread ran again), not in Go code (Go recovers those),
// and complete. The server records only what no displaced handler handled
// and just before it replies (internal/native cg_mach_server_darwin.c), so
// a handled exception leaves no record and the signal handler's merge
// window starts at the reply.
func (n *nativeEvidence) fatal() *flightrec.Record {
	if n.file == nil {
		return nil
	}
	newest := map[uint64]uint64{} // thread id -> highest seq
	for i := range n.file.Records {
		rec := &n.file.Records[i]
		if seq, ok := newest[rec.ThreadID]; !ok || rec.Seq > seq {
			newest[rec.ThreadID] = rec.Seq
		}
	}
	var found *flightrec.Record
	for i := range n.file.Records {
		rec := &n.file.Records[i]
		if rec.Flags.Has(flightrec.FlagFatal) || machOnlyFatal(rec, newest[rec.ThreadID]) {
			found = rec // records are oldest first: keep the newest
		}
	}
	return found
}

// machOnlyFatal reports whether rec is a Mach record whose signal never came
// and whose thread never ran again (newestSeq is its thread's newest record).
func machOnlyFatal(rec *flightrec.Record, newestSeq uint64) bool {
	machOnly := rec.Flags.Has(flightrec.FlagFromMach) && !rec.Flags.Has(flightrec.FlagFromSignal) &&
		!rec.Flags.Has(flightrec.FlagGoCode)
	return machOnly && !rec.Incomplete && rec.Seq == newestSeq
}

// matching returns the record of the fault the crash output's signal line
// describes (same pc and address), so that a Go-level report of a fault gains
// registers and codes. Records of faults Go recovered never match a report
// of their own: they only enrich a crash whose signal line names them.
func (n *nativeEvidence) matching(sig *report.Signal) *flightrec.Record {
	if n.file == nil || sig == nil {
		return nil
	}
	for i := len(n.file.Records) - 1; i >= 0; i-- {
		rec := &n.file.Records[i]
		if rec.PC == sig.PC && rec.Addr == sig.Addr && rec.Flags&flightrec.FlagFromSignal != 0 {
			return rec
		}
	}
	return nil
}

// fault returns the record a report of this run carries: the fatal one,
// else the one the crash output's signal line describes; nil when none.
func (n *nativeEvidence) fault(sig *report.Signal) *flightrec.Record {
	if rec := n.fatal(); rec != nil {
		return rec
	}
	return n.matching(sig)
}

// merge puts the fault record rec (from fault) into the report with the
// images for symbolication, its frames left for symbolizeFault. A report
// with no crash output becomes a native crash report. Pure: no file is
// opened.
func (n *nativeEvidence) merge(r *report.Report, rec *flightrec.Record) {
	h := &n.file.Header
	r.Images = images(n.file)
	nf := &report.NativeFault{
		Signal:    rec.Signal,
		Address:   rec.Addr,
		PC:        rec.PC,
		ThreadID:  rec.ThreadID,
		GoThread:  rec.Flags&flightrec.FlagGoThread != 0,
		Fatal:     rec.Flags&flightrec.FlagFatal != 0,
		Registers: n.file.RegisterMap(rec),
	}
	if rec.Signal != 0 {
		nf.SignalName = flightrec.SignalName(h.OS, rec.Signal)
		nf.SignalCode = rec.Code
		nf.CodeName = flightrec.CodeName(h.OS, rec.Signal, rec.Code)
	}
	if rec.Flags&flightrec.FlagFromMach != 0 {
		nf.Mach = &report.MachException{
			Exception: rec.MachException,
			Name:      flightrec.MachExceptionName(rec.MachException),
			Code:      rec.MachCode,
			CodeName:  flightrec.MachCodeName(rec.MachException, rec.MachCode),
			Subcode:   uint64(rec.MachSubcode),
		}
	}
	r.Native = nf
	r.OSReportSuppressed = rec.Flags&flightrec.FlagSuppressedExit != 0
	if r.Process.CrashTime.Before(rec.Time) {
		r.Process.CrashTime = rec.Time
	}
	if r.Kind == "" {
		// No Go crash output: a fault or abort the runtime never saw (a
		// thread Go did not create), or one it could not print.
		r.Kind = report.KindFault
		r.Message = nativeMessage(h.OS.GOOS(), nf)
	}
}

// symbolizeFault fills the frames of the fault merge put into r from rec's
// stack, symbolized from the images on disk whose build-id matches.
func (n *nativeEvidence) symbolizeFault(r *report.Report, rec *flightrec.Record) {
	h := &n.file.Header
	sym := symbolize.New(r.Images, symbolize.Options{
		Sentinel: symbolize.Sentinel{Symbol: h.SentinelName, Addr: h.SentinelPC},
	})
	defer sym.Close()
	r.Native.Frames = sym.Frames(rec.Frames)
}

// nativeMessage describes a native fault the way the Go runtime's first line
// would have ("SIGSEGV: segmentation violation"), or by its Mach exception.
func nativeMessage(goos string, nf *report.NativeFault) string {
	if nf.SignalName != "" {
		if d := signals.RuntimeDescription(goos, nf.SignalName); d != "" {
			return nf.SignalName + ": " + d
		}
		return nf.SignalName
	}
	if nf.Mach != nil {
		return strings.TrimSpace(nf.Mach.Name + " " + nf.Mach.CodeName)
	}
	return "native fault"
}

// images converts the recorder's image table for the report and symbolizer.
func images(f *flightrec.File) []report.Image {
	out := make([]report.Image, 0, len(f.Images))
	for _, im := range f.Images {
		if im.Incomplete {
			continue
		}
		ri := report.Image{
			Path:        im.Path,
			Base:        im.Base,
			Size:        im.Size,
			ImageVMAddr: im.VMAddr,
			IsMain:      im.IsMain(),
		}
		switch im.Type {
		case flightrec.ImageMachO:
			ri.Type = "macho"
			ri.UUID = hex.EncodeToString(im.BuildID)
		default:
			ri.Type = "elf"
			ri.BuildID = hex.EncodeToString(im.BuildID)
		}
		out = append(out, ri)
	}
	return out
}
