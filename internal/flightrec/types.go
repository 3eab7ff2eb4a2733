package flightrec

import (
	"strconv"
	"strings"
	"time"
)

// Arch is the CPU architecture a recorder was written on; it fixes the
// register order (RegisterNames).
type Arch uint32

// Architectures.
const (
	ArchUnknown Arch = 0
	ArchAMD64   Arch = 1
	ArchARM64   Arch = 2
)

// String returns "amd64", "arm64" or "unknown".
func (a Arch) String() string {
	switch a {
	case ArchAMD64:
		return "amd64"
	case ArchARM64:
		return "arm64"
	}
	return "unknown"
}

// OS is the operating system a recorder was written on; it fixes the
// meaning of signal numbers and si_code values (SignalName, CodeName).
type OS uint32

// Operating systems.
const (
	OSUnknown OS = 0
	OSLinux   OS = 1
	OSDarwin  OS = 2
)

// String returns "linux", "darwin" or "unknown".
func (o OS) String() string {
	switch o {
	case OSLinux:
		return "linux"
	case OSDarwin:
		return "darwin"
	}
	return "unknown"
}

// Layers are the native layers that were active, as written into the
// header by the native install.
type Layers uint32

// Native layers.
const (
	// LayerSignalChain: the signal handlers were installed.
	LayerSignalChain Layers = 1 << 0
	// LayerMach: the Mach exception thread was installed (darwin).
	LayerMach Layers = 1 << 1
	// LayerChainsToGo: every replaced handler was the Go runtime's, so the
	// handler's "known fatal" rule was armed.
	LayerChainsToGo Layers = 1 << 2
	// LayerLibraryMode: the program is a c-shared / c-archive library; the
	// host may handle faults, so the handler never marks a record fatal.
	LayerLibraryMode Layers = 1 << 3
)

// Flags describe one record.
type Flags uint32

// Record flags. The names match the C macros CG_FLAG_* in cg_recorder.h.
const (
	// FlagFatal: the handler knew the fault would end the process (see the
	// rule in internal/native's package doc). A record without it may still
	// have been fatal: that is decided from the other evidence after death.
	FlagFatal Flags = 1 << 0
	// FlagGoThread: the faulting thread was created by Go (it has a signal
	// stack, or it was running Go code).
	FlagGoThread Flags = 1 << 1
	// FlagFromMach: the record was written by the Mach exception thread (darwin).
	FlagFromMach Flags = 1 << 2
	// FlagFromSignal: the signal handler saw this fault (on darwin it may
	// have completed a Mach record).
	FlagFromSignal Flags = 1 << 3
	// FlagSuppressedExit: the handler ended the process with _exit(128+sig)
	// instead of letting it die by the signal (no OS crash dump).
	FlagSuppressedExit Flags = 1 << 4
	// FlagGoCode: the pc was in the Go executable's Go text. Such faults are
	// often recovered panics; they are recorded cheaply (no frame walk).
	FlagGoCode Flags = 1 << 5
	// FlagFromUser: the signal was sent (kill, raise, abort), not raised by
	// the CPU; SenderPID says by whom.
	FlagFromUser Flags = 1 << 6
	// FlagFramesTruncated: the frame walk stopped at MaxFrames.
	FlagFramesTruncated Flags = 1 << 7
	// FlagFramesScanned: the frame-pointer chain gave no caller (code
	// without frame pointers), so the frames after it were found by scanning
	// the stack for return addresses that follow a call instruction. They
	// are likely but not certain callers (a stale return address can match).
	FlagFramesScanned Flags = 1 << 8
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagFatal, "fatal"},
	{FlagGoThread, "go_thread"},
	{FlagFromMach, "from_mach"},
	{FlagFromSignal, "from_signal"},
	{FlagSuppressedExit, "suppressed_exit"},
	{FlagGoCode, "go_code"},
	{FlagFromUser, "from_user"},
	{FlagFramesTruncated, "frames_truncated"},
	{FlagFramesScanned, "frames_scanned"},
}

// Has reports whether all of x are set.
func (f Flags) Has(x Flags) bool { return f&x == x }

// String returns the set flags' names joined by "|", e.g. "fatal|go_thread";
// unknown bits are shown in hex.
func (f Flags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(f), 16))
	}
	return strings.Join(parts, "|")
}

// ImageType is the object format of a loaded image.
type ImageType uint8

// Image types.
const (
	ImageELF   ImageType = 1
	ImageMachO ImageType = 2
)

// String returns "elf", "macho" or "unknown".
func (t ImageType) String() string {
	switch t {
	case ImageELF:
		return "elf"
	case ImageMachO:
		return "macho"
	}
	return "unknown"
}

// ImageMain flags the executable itself in Image.Flags.
const ImageMain = 1 << 0

// Header is the decoded file header.
type Header struct {
	Version     uint32
	RecordCount int
	// ImageCapacity is the number of image slots; ImageCount how many were
	// claimed (clamped to ImageCapacity).
	ImageCapacity int
	ImageCount    int
	Arch          Arch
	OS            OS
	PID           int
	StartTime     time.Time
	// SentinelPC is the runtime address, in the recording process, of the
	// Go function named SentinelName. The difference between it and the
	// function's address in the executable file is the ASLR slide of Go PCs.
	SentinelPC   uint64
	SentinelName string
	// GoTextStart and GoTextEnd bound the Go text of the executable at
	// runtime; 0 when the native layer did not run.
	GoTextStart uint64
	GoTextEnd   uint64
	// NextSeq is the last sequence number handed out: records claimed over
	// the life of the process (more than RecordCount means the ring wrapped).
	NextSeq uint64
	Layers  Layers
}

// Image is one loaded image (executable or shared library).
type Image struct {
	Path    string
	Type    ImageType
	Base    uint64
	Size    uint64
	VMAddr  uint64
	BuildID []byte
	Flags   uint16
	// Incomplete is true when the slot was being written when the process
	// died.
	Incomplete bool
}

// IsMain reports whether the image is the executable.
func (im *Image) IsMain() bool { return im.Flags&ImageMain != 0 }

// Record is one fault record.
type Record struct {
	// Slot is the record's index in the ring.
	Slot int
	Seq  uint64
	// Incomplete is true for a torn record: its writer had claimed it but
	// not finished when the process died. Its fields may be partial.
	Incomplete bool
	Flags      Flags
	// Time is when the handler (or the Mach thread) started on the fault.
	Time time.Time
	// HandlerDuration is the time from Time to the record being complete.
	HandlerDuration time.Duration
	ThreadID        uint64
	Signal          int
	Code            int
	Addr            uint64
	PC              uint64
	SP              uint64
	SenderPID       int
	MachException   int
	MachCode        int64
	MachSubcode     int64
	// Registers are in RegisterNames(arch) order.
	Registers []uint64
	// Frames[0] is the pc; the others are return addresses, innermost first.
	Frames []uint64
}

// File is a decoded flight recorder.
type File struct {
	Header Header
	// Images are the complete (and torn, marked Incomplete) image slots.
	Images []Image
	// Records are the non-empty records, oldest first (by Seq).
	Records []Record
}

// Fatal returns the records marked fatal, oldest first. Torn records are
// included only when their flags say fatal; the writers store the flags
// last, so a torn record seldom does.
func (f *File) Fatal() []Record {
	var out []Record
	for _, r := range f.Records {
		if r.Flags&FlagFatal != 0 {
			out = append(out, r)
		}
	}
	return out
}

// RegisterMap returns the record's registers by name, for the file's arch.
func (f *File) RegisterMap(r *Record) map[string]uint64 {
	names := RegisterNames(f.Header.Arch)
	m := make(map[string]uint64, len(r.Registers))
	for i, v := range r.Registers {
		if i < len(names) {
			m[names[i]] = v
		}
	}
	return m
}
