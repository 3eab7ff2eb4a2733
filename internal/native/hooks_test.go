//go:build cgo && (linux || darwin)

package native

import (
	"unsafe"

	"github.com/crashguard/crashguard-go/internal/native/nativetest"
)

// The C test entry points live in internal/native/nativetest, so that none
// of them is linked into a program (TestNoTestCodeInPrograms); the tests
// here call them by these names.
var (
	cLayout          = nativetest.Layout
	cFunctionPC      = nativetest.CFunctionPC
	unwindHere       = nativetest.UnwindHere
	newCMemory       = nativetest.NewCMemory
	unwind           = nativetest.Unwind
	unwindValidated  = nativetest.UnwindValidated
	codeAddr         = nativetest.CodeAddr
	safeRead         = nativetest.SafeRead
	safeReadFallback = nativetest.SafeReadFallback
	attachRecorder   = nativetest.AttachRecorder
	detachRecorder   = nativetest.DetachRecorder
	writeTestRecord  = nativetest.WriteRecord
	recordMach       = nativetest.RecordMach
	mergeSignal      = nativetest.MergeSignal
	knownFatal       = nativetest.KnownFatal
	darwinCPUFault   = nativetest.DarwinCPUFault
	threadID         = nativetest.ThreadID
	nowNS            = nativetest.NowNS
	installForeign   = nativetest.InstallForeign
	foreignCalls     = nativetest.ForeignCalls
	cfiTestAddrs     = nativetest.CFIAddrs
)

type (
	cMemory     = nativetest.CMemory
	cfiTestCode = nativetest.CFICode
)

func suppressModeForTest() int { return nativetest.SuppressMode() }

func recorderEntryPoints() (record, merge unsafe.Pointer) { return nativetest.RecorderEntryPoints() }

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
