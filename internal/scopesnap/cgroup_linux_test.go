package scopesnap

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/report"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
}

func TestCgroup(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"svc.slice/app/memory.max": "536870912\n", "svc.slice/app/memory.high": "max\n", "svc.slice/app/cpu.max": "150000 100000\n",
		})
		assert.Equal(t, &report.Cgroup{Version: 2, Path: "/svc.slice/app", MemoryMax: 512 << 20, CPUQuota: 1.5},
			cgroupFrom([]byte("0::/svc.slice/app\n"), root))
	})
	t.Run("v2 namespace", func(t *testing.T) {
		root := t.TempDir() // the path is not under the mount: the mount is the cgroup
		writeFiles(t, root, map[string]string{"memory.max": "max\n", "memory.high": "1073741824\n", "cpu.max": "max 100000\n"})
		assert.Equal(t, &report.Cgroup{Version: 2, Path: "/", MemoryHigh: 1 << 30},
			cgroupFrom([]byte("0::/\n"), root))
	})
	t.Run("v1", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"memory/docker/abc/memory.limit_in_bytes": "268435456\n",
			"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
		})
		assert.Equal(t, &report.Cgroup{Version: 1, Path: "/docker/abc", MemoryMax: 256 << 20, CPUQuota: 0.5},
			cgroupFrom([]byte("12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n"), root))
	})
	t.Run("no limits", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n", "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"})
		assert.Nil(t, cgroupFrom([]byte("4:memory:/x\n1:cpu:/\n"), root))
		assert.Nil(t, cgroupFrom([]byte("garbage"), root))
	})
	_ = readCgroup() // the real one: whatever it is, it must not fail
}
