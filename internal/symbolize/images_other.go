//go:build !linux

package symbolize

import (
	"errors"

	"github.com/crashguard/crashguard-go/internal/report"
)

// CurrentImages returns errors.ErrUnsupported outside Linux. On darwin the
// native layer lists images through dyld (_dyld_image_count,
// _dyld_get_image_header), which pure Go cannot call.
func CurrentImages() ([]report.Image, error) {
	return nil, errors.ErrUnsupported
}
