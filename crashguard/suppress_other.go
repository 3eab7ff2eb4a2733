//go:build !linux && !darwin

package crashguard

import "fmt"

func (g *Guard) suppressPlatform() (undo func() error, err error) {
	return nil, fmt.Errorf("%w: OS crash report suppression is implemented for Linux and macOS", ErrUnsupported)
}
