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

var errUnsupported = errors.New("scopesnap: not supported on this platform")

func create(string) (mem, error) { return nil, errUnsupported }

const openFlags = os.O_RDONLY
