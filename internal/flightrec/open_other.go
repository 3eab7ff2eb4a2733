//go:build !unix

package flightrec

// Without O_NOFOLLOW/O_NONBLOCK the regular-file check after opening is what
// refuses anything else at a recorder's name.
const (
	noFollow = 0
	nonBlock = 0
)
