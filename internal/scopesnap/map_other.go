//go:build !unix

package scopesnap

import (
	"errors"
	"os"
)

// supported is false: no mapping here (Windows would need
// CreateFileMapping; not done), so Start does nothing and the events of
// this platform carry no scope.
const supported = false

// Supported is true where Start makes a mapping (Unix); elsewhere Start
// returns ErrUnsupported and events carry no scope.
const Supported = supported

// ErrUnsupported is Start's error where there is no mapping.
var ErrUnsupported = errors.New("scopesnap: not supported on this platform")

func create(string) (mem, bool, error) { return nil, false, ErrUnsupported }

const openFlags = os.O_RDONLY
