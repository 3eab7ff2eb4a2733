package flightrec

import (
	"encoding/binary"
	"fmt"
)

// The functions here write records and images into recorder bytes from Go,
// for this package's tests (the native layer writes through its C structs,
// and no other package builds recorder bytes).

// PutRecord writes r into record slot `slot` of the recorder bytes b with
// the given state (StateComplete, or StateWriting to make a torn record).
// Registers and frames beyond the maxima are dropped.
func PutRecord(b []byte, slot int, r *Record, state uint32) error {
	h, g, err := decodeHeader(b)
	if err != nil {
		return err
	}
	if slot < 0 || slot >= h.RecordCount || len(b) < g.fileSize {
		return fmt.Errorf("flightrec: record slot %d out of range", slot)
	}
	p := b[g.recordOff+slot*RecordSize : g.recordOff+(slot+1)*RecordSize]
	clear(p)
	le := binary.LittleEndian
	le.PutUint32(p[rState:], state)
	le.PutUint32(p[rFlags:], uint32(r.Flags))
	le.PutUint64(p[rSeq:], r.Seq)
	if !r.Time.IsZero() {
		le.PutUint64(p[rTime:], uint64(r.Time.UnixNano()))
	}
	le.PutUint32(p[rHandlerNS:], uint32(min(r.HandlerDuration.Nanoseconds(), 1<<32-1)))
	le.PutUint64(p[rThreadID:], r.ThreadID)
	le.PutUint32(p[rSignal:], uint32(int32(r.Signal)))
	le.PutUint32(p[rCode:], uint32(int32(r.Code)))
	le.PutUint64(p[rAddr:], r.Addr)
	le.PutUint64(p[rPC:], r.PC)
	le.PutUint64(p[rSP:], r.SP)
	le.PutUint32(p[rSenderPID:], uint32(int32(r.SenderPID)))
	le.PutUint32(p[rMachException:], uint32(int32(r.MachException)))
	le.PutUint64(p[rMachCode:], uint64(r.MachCode))
	le.PutUint64(p[rMachSubcode:], uint64(r.MachSubcode))
	nregs := min(len(r.Registers), MaxRegisters)
	le.PutUint32(p[rNRegs:], uint32(nregs))
	for i := 0; i < nregs; i++ {
		le.PutUint64(p[rRegs+8*i:], r.Registers[i])
	}
	nframes := min(len(r.Frames), MaxFrames)
	le.PutUint32(p[rNFrames:], uint32(nframes))
	for i := 0; i < nframes; i++ {
		le.PutUint64(p[rFrames+8*i:], r.Frames[i])
	}
	return nil
}

// PutImage writes im into image slot `slot` of the recorder bytes b as
// complete and raises the header's image_count to cover it.
func PutImage(b []byte, slot int, im *Image) error {
	h, g, err := decodeHeader(b)
	if err != nil {
		return err
	}
	if slot < 0 || slot >= h.ImageCapacity || len(b) < g.fileSize {
		return fmt.Errorf("flightrec: image slot %d out of range", slot)
	}
	p := b[g.imageOff+slot*ImageSize : g.imageOff+(slot+1)*ImageSize]
	clear(p)
	le := binary.LittleEndian
	le.PutUint32(p[iState:], StateComplete)
	p[iType] = byte(im.Type)
	n := copy(p[iBuildID:iBuildID+MaxBuildID], im.BuildID)
	p[iBuildIDLen] = byte(n)
	le.PutUint16(p[iFlags:], im.Flags)
	le.PutUint64(p[iBase:], im.Base)
	le.PutUint64(p[iSize:], im.Size)
	le.PutUint64(p[iVMAddr:], im.VMAddr)
	copy(p[iPath:iPath+MaxPath-1], im.Path)
	if uint32(slot+1) > le.Uint32(b[hImageCount:]) {
		le.PutUint32(b[hImageCount:], uint32(slot+1))
	}
	return nil
}

// PutNative writes the header fields the native install writes: the Go text
// range, the layers and the sequence counter. For tests and tools.
func PutNative(b []byte, goTextStart, goTextEnd uint64, layers Layers, nextSeq uint64) error {
	if _, _, err := decodeHeader(b); err != nil {
		return err
	}
	le := binary.LittleEndian
	le.PutUint64(b[hGoTextStart:], goTextStart)
	le.PutUint64(b[hGoTextEnd:], goTextEnd)
	le.PutUint32(b[hLayers:], uint32(layers))
	le.PutUint64(b[hNextSeq:], nextSeq)
	return nil
}
