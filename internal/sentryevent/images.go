package sentryevent

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/internal/report"
)

// sentryArch maps GOARCH to the architecture names Sentry's symbolicator
// uses; it picks the slice of a universal Mach-O by it.
var sentryArch = map[string]string{"amd64": "x86_64", "arm64": "arm64", "386": "x86", "arm": "arm"}

// debugImages converts the loaded images into debug_meta.images, in the
// shape sentry-native sends: {type, code_file, image_addr, image_size,
// debug_id[, code_id]}. An image without any identifier cannot be matched to
// a debug file and Relay would reject it as invalid, so it is left out.
func debugImages(r *report.Report) []sentry.DebugMetaImage {
	arch := sentryArch[r.Process.GOARCH]
	var out []sentry.DebugMetaImage
	for _, img := range r.Images {
		d := sentry.DebugMetaImage{
			Type:      img.Type,
			CodeFile:  img.Path,
			ImageAddr: hexAddr(img.Base),
			ImageSize: int(min(img.Size, math.MaxInt)),
			DebugID:   img.DebugID,
			CodeID:    img.CodeID,
			Arch:      arch,
		}
		if img.ImageVMAddr != 0 {
			d.ImageVmaddr = hexAddr(img.ImageVMAddr)
		}
		switch img.Type {
		case "elf":
			if d.CodeID == "" {
				d.CodeID = strings.ToLower(img.BuildID)
			}
			if d.DebugID == "" {
				id, err := DebugIDFromBuildID(img.BuildID)
				if err != nil {
					continue
				}
				d.DebugID = id
			}
		case "macho":
			// For Mach-O the debug id is LC_UUID itself (sentry-native's
			// apple module finder). The "uuid" key belongs to the legacy
			// "apple" image type; Relay reads "macho" images as native
			// images, which have no such key.
			if d.DebugID == "" {
				id, err := normalizeUUID(img.UUID)
				if err != nil {
					continue
				}
				d.DebugID = id
			}
		default:
			if d.DebugID == "" {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// DebugIDFromBuildID returns the Sentry debug id of an ELF file from its GNU
// build-id (hex): the first 16 bytes of the build id, zero-padded if shorter,
// read as a little-endian GUID, so the first three fields (4, 2 and 2 bytes)
// are byte-swapped when written as a UUID.
//
// This is sentry-native's rule (getsentry/sentry-native
// src/modulefinder/sentry_modulefinder_linux.c, sentry__procmaps_read_ids_from_elf:
// memcpy of min(len,16) bytes, then htonl/htons/htons on the first three
// fields) and symbolic's (debuginfo/src/elf.rs), documented at
// getsentry.github.io/symbolicator/advanced/symbol-server-compatibility/#identifiers.
// Example from sentry-native's tests: build id
// 1c304742f114215453a8a777f6cdb3a2b8505e11 → 4247301c-14f1-5421-53a8-a777f6cdb3a2.
func DebugIDFromBuildID(buildID string) (string, error) {
	b, err := hex.DecodeString(buildID)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("%w: build id %q is not hex", ErrInvalidReport, buildID)
	}
	var g [16]byte
	copy(g[:], b)
	binary.BigEndian.PutUint32(g[0:], binary.LittleEndian.Uint32(g[0:]))
	binary.BigEndian.PutUint16(g[4:], binary.LittleEndian.Uint16(g[4:]))
	binary.BigEndian.PutUint16(g[6:], binary.LittleEndian.Uint16(g[6:]))
	return formatUUID(g), nil
}

// normalizeUUID accepts a UUID with or without hyphens, any case, and returns
// it lowercase and hyphenated.
func normalizeUUID(s string) (string, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return "", fmt.Errorf("%w: %q is not a UUID", ErrInvalidReport, s)
	}
	return formatUUID([16]byte(b)), nil
}

func formatUUID(g [16]byte) string {
	h := hex.EncodeToString(g[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
