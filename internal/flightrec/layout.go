// Package flightrec defines the flight recorder: a per-run file of fixed-size,
// pointer-free fault records that the native layer (internal/native) writes
// at fault time through a MAP_SHARED mapping, so that the bytes survive the
// death of the process without any system call in the crash path.
//
// Go creates the file (Create) and writes its header; C maps it, fills the
// image table at install and claims records when a fault arrives; after the
// process is gone, Decode reads it back. This package is pure Go and builds
// everywhere (CGO_ENABLED=0, windows): post-mortem decoding needs no cgo.
//
// # File layout (version 1, all integers little-endian)
//
//	offset                  size             what
//	0                       HeaderSize       header
//	header.image_offset     cap*ImageSize    image table (image_capacity slots)
//	header.record_offset    n*RecordSize     records (record_count slots)
//
// Every field has a fixed offset and width; Layout lists them all, and a cgo
// test in internal/native checks each against C's offsetof/sizeof.
//
// # Header (HeaderSize = 512)
//
//	0   magic[8]         "CGFLTREC"
//	8   u32 version      Version
//	12  u32 header_size  512
//	16  u32 record_size  960
//	20  u32 record_count slots in the ring (default 32)
//	24  u32 record_offset
//	28  u32 image_size   320
//	32  u32 image_capacity
//	36  u32 image_offset
//	40  u32 arch         1 amd64, 2 arm64
//	44  u32 os           1 linux, 2 darwin
//	48  i64 pid
//	56  i64 start_time   unix ns, when Create ran
//	64  u64 sentinel_pc  runtime address of the function named by sentinel_name
//	72  u64 go_text_start runtime [start, end) of the Go executable's Go text;
//	80  u64 go_text_end   written by native install, 0 when unknown
//	88  u64 next_seq     sequence counter, fetch_add by the writers
//	96  u32 image_count  image slots claimed (may exceed capacity: clamp)
//	100 u32 layers       LayerSignalChain | LayerMach | ... (native install)
//	104 u32 max_registers 40
//	108 u32 max_frames   64
//	112 name[128]        sentinel_name, NUL padded
//	240 u64 file_size    total size of the file
//	248 ... 512          zero
//
// # Image (ImageSize = 320)
//
//	0   u32 state        0 empty, 1 being written, 2 complete
//	4   u8  type         1 elf, 2 macho
//	5   u8  build_id_len bytes used of build_id
//	6   u16 flags        ImageMain
//	8   u64 base         runtime address of the first mapped byte
//	16  u64 size         bytes from base to the end of the last segment
//	24  u64 vmaddr       link-time address of base (ELF first PT_LOAD, Mach-O __TEXT)
//	32  build_id[32]     ELF NT_GNU_BUILD_ID bytes / Mach-O LC_UUID (16)
//	64  path[256]        NUL padded, truncated to 255 bytes
//
// # Record (RecordSize = 960, 15 cache lines, so concurrent writers never share one)
//
//	0   u32 state        0 empty, 1 being written, 2 complete
//	4   u32 flags        FlagFatal, FlagGoThread, ...
//	8   u64 seq          sequence number (from header.next_seq, starts at 1)
//	16  i64 time         CLOCK_REALTIME ns at handler entry
//	24  u64 thread_id    Linux gettid(); darwin pthread_threadid_np (64-bit system thread id)
//	32  i32 signal       signal number, 0 when only a Mach exception was seen
//	36  i32 code         si_code
//	40  u64 addr         si_addr (fault address)
//	48  u64 pc           program counter at the fault
//	56  u64 sp           stack pointer at the fault
//	64  i32 mach_exception
//	68  u32 nregs        registers used (RegisterNames order)
//	72  i64 mach_code
//	80  i64 mach_subcode
//	88  u32 nframes      frames used
//	92  u32 handler_ns   time from handler entry to record complete (saturating)
//	96  u64 regs[40]
//	416 u64 frames[64]   frames[0] = pc; the rest are return addresses, innermost first
//	928 i32 sender_pid   si_pid when the signal was sent (si_code <= 0 on Linux), else 0
//	932 ... 960          zero
package flightrec

// Version is the version of the file layout written and read by this package.
const Version = 1

// Magic opens every flight recorder file.
const Magic = "CGFLTREC"

// Sizes of the fixed parts of the layout.
const (
	HeaderSize   = 512
	ImageSize    = 320
	RecordSize   = 960
	MaxRegisters = 40
	MaxFrames    = 64
	// MaxPath is the size of an image's path field, NUL included.
	MaxPath = 256
	// MaxBuildID is the size of an image's build-id field.
	MaxBuildID = 32
	// MaxSentinelName is the size of the header's sentinel_name field.
	MaxSentinelName = 128
)

// Limits Decode accepts, so that a corrupt header cannot make it allocate
// without bound.
const (
	MaxRecordCount   = 4096
	MaxImageCapacity = 16384
)

// Slot states, shared by images and records.
const (
	StateEmpty    = 0
	StateWriting  = 1
	StateComplete = 2
)

// Header field offsets.
const (
	hMagic         = 0
	hVersion       = 8
	hHeaderSize    = 12
	hRecordSize    = 16
	hRecordCount   = 20
	hRecordOffset  = 24
	hImageSize     = 28
	hImageCapacity = 32
	hImageOffset   = 36
	hArch          = 40
	hOS            = 44
	hPID           = 48
	hStartTime     = 56
	hSentinelPC    = 64
	hGoTextStart   = 72
	hGoTextEnd     = 80
	hNextSeq       = 88
	hImageCount    = 96
	hLayers        = 100
	hMaxRegisters  = 104
	hMaxFrames     = 108
	hSentinelName  = 112
	hFileSize      = 240
)

// Image field offsets.
const (
	iState      = 0
	iType       = 4
	iBuildIDLen = 5
	iFlags      = 6
	iBase       = 8
	iSize       = 16
	iVMAddr     = 24
	iBuildID    = 32
	iPath       = 64
)

// Record field offsets.
const (
	rState         = 0
	rFlags         = 4
	rSeq           = 8
	rTime          = 16
	rThreadID      = 24
	rSignal        = 32
	rCode          = 36
	rAddr          = 40
	rPC            = 48
	rSP            = 56
	rMachException = 64
	rNRegs         = 68
	rMachCode      = 72
	rMachSubcode   = 80
	rNFrames       = 88
	rHandlerNS     = 92
	rRegs          = 96
	rFrames        = 416
	rSenderPID     = 928
)

// Field is one fixed-width field of the on-disk layout.
type Field struct {
	// Name is "<struct>.<field>", struct being header, image or record.
	Name   string
	Offset int
	Size   int
}

// Layout lists every field of the header, image and record layouts, plus one
// pseudo-field "<struct>.size" per struct. The native layer's C structs must
// match it byte for byte (checked by a cgo test in internal/native).
func Layout() []Field {
	return []Field{
		{"header.size", 0, HeaderSize},
		{"header.magic", hMagic, 8},
		{"header.version", hVersion, 4},
		{"header.header_size", hHeaderSize, 4},
		{"header.record_size", hRecordSize, 4},
		{"header.record_count", hRecordCount, 4},
		{"header.record_offset", hRecordOffset, 4},
		{"header.image_size", hImageSize, 4},
		{"header.image_capacity", hImageCapacity, 4},
		{"header.image_offset", hImageOffset, 4},
		{"header.arch", hArch, 4},
		{"header.os", hOS, 4},
		{"header.pid", hPID, 8},
		{"header.start_time", hStartTime, 8},
		{"header.sentinel_pc", hSentinelPC, 8},
		{"header.go_text_start", hGoTextStart, 8},
		{"header.go_text_end", hGoTextEnd, 8},
		{"header.next_seq", hNextSeq, 8},
		{"header.image_count", hImageCount, 4},
		{"header.layers", hLayers, 4},
		{"header.max_registers", hMaxRegisters, 4},
		{"header.max_frames", hMaxFrames, 4},
		{"header.sentinel_name", hSentinelName, MaxSentinelName},
		{"header.file_size", hFileSize, 8},

		{"image.size", 0, ImageSize},
		{"image.state", iState, 4},
		{"image.type", iType, 1},
		{"image.build_id_len", iBuildIDLen, 1},
		{"image.flags", iFlags, 2},
		{"image.base", iBase, 8},
		{"image.size_bytes", iSize, 8},
		{"image.vmaddr", iVMAddr, 8},
		{"image.build_id", iBuildID, MaxBuildID},
		{"image.path", iPath, MaxPath},

		{"record.size", 0, RecordSize},
		{"record.state", rState, 4},
		{"record.flags", rFlags, 4},
		{"record.seq", rSeq, 8},
		{"record.time", rTime, 8},
		{"record.thread_id", rThreadID, 8},
		{"record.signal", rSignal, 4},
		{"record.code", rCode, 4},
		{"record.addr", rAddr, 8},
		{"record.pc", rPC, 8},
		{"record.sp", rSP, 8},
		{"record.mach_exception", rMachException, 4},
		{"record.nregs", rNRegs, 4},
		{"record.mach_code", rMachCode, 8},
		{"record.mach_subcode", rMachSubcode, 8},
		{"record.nframes", rNFrames, 4},
		{"record.handler_ns", rHandlerNS, 4},
		{"record.regs", rRegs, 8 * MaxRegisters},
		{"record.frames", rFrames, 8 * MaxFrames},
		{"record.sender_pid", rSenderPID, 4},
	}
}
