//go:build cgo && linux

package native

import (
	"os"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The safe read uses process_vm_readv wherever the kernel allows it, and
// the pipe only where it does not (QEMU user emulation lacks the call: the
// arm64 runs under .ci/arm64.sh cover the fallback, the amd64 ones this).
func TestSafeReadPath(t *testing.T) {
	m := newCMemory(2)
	defer m.Free()
	m.Set(0, 0x0102030405060708)
	b, ok := safeRead(m.Addr(0), 8)
	require.True(t, ok)
	assert.Equal(t, []byte{8, 7, 6, 5, 4, 3, 2, 1}, b)

	var src, dst uint64 = 42, 0
	local := syscall.Iovec{Base: (*byte)(unsafe.Pointer(&dst)), Len: 8}
	remote := syscall.Iovec{Base: (*byte)(unsafe.Pointer(&src)), Len: 8}
	n, _, errno := syscall.Syscall6(unix.SYS_PROCESS_VM_READV, uintptr(os.Getpid()),
		uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	if errno == 0 && n == 8 {
		assert.Equal(t, uint64(42), dst)
		assert.Equal(t, 0, safeReadFallback(), "process_vm_readv works here: the safe read must use it, not the pipe")
		return
	}
	t.Logf("process_vm_readv refused here (%v): the pipe fallback is the path", errno)
	assert.Equal(t, 1, safeReadFallback())
}
