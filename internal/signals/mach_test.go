package signals

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMachNames(t *testing.T) {
	assert.Equal(t, "EXC_BAD_ACCESS", MachExceptionName(1))
	assert.Equal(t, "EXC_CRASH", MachExceptionName(10))
	assert.Equal(t, "", MachExceptionName(0))
	assert.Equal(t, "", MachExceptionName(99))
	assert.Equal(t, "KERN_INVALID_ADDRESS", MachCodeName(1, 1))
	assert.Equal(t, "KERN_PROTECTION_FAILURE", MachCodeName(1, 2))
	assert.Equal(t, "", MachCodeName(2, 1), "codes are only named for EXC_BAD_ACCESS")
	assert.Equal(t, "EXC_I386_GPFLT", MachCodeName(1, 13))
	assert.Equal(t, "EXC_ARM_DA_ALIGN", MachCodeName(1, 0x101))
	assert.Equal(t, "EXC_ARM_PAC_FAIL", MachCodeName(1, 0x105))
}
