package scopesnap

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard-go/internal/report"
)

// cgroupRoot is where cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// readCgroup reads the memory and CPU limits of this process's cgroup:
// v2's memory.max, memory.high and cpu.max, or v1's
// memory.limit_in_bytes and cpu.cfs_quota_us/cfs_period_us. The cgroup's
// directory is /proc/self/cgroup's path under the mount; inside a cgroup
// namespace (a container) that path does not exist there and the mount's
// root is the cgroup. It returns nil when there is no limit to tell.
// A handful of small reads of virtual files, done once in the background.
func readCgroup() *report.Cgroup {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	return cgroupFrom(b, cgroupRoot)
}

// cgroupFrom is readCgroup for the content of /proc/self/cgroup and the
// mount point root.
func cgroupFrom(b []byte, cgroupRoot string) *report.Cgroup {
	var v2 string
	v1 := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			v1[c] = parts[2]
		}
	}
	var cg *report.Cgroup
	if p, ok := v1["memory"]; ok {
		cg = &report.Cgroup{Version: 1, Path: p}
		dir := cgroupDir(filepath.Join(cgroupRoot, "memory"), p)
		cg.MemoryMax = limit(readFile(dir, "memory.limit_in_bytes"))
		if cp, ok := v1["cpu"]; ok {
			for _, mount := range []string{"cpu", "cpu,cpuacct"} {
				dir := cgroupDir(filepath.Join(cgroupRoot, mount), cp)
				quota, period := readFile(dir, "cpu.cfs_quota_us"), readFile(dir, "cpu.cfs_period_us")
				if quota != "" {
					cg.CPUQuota = cpuQuota(quota, period)
					break
				}
			}
		}
	} else if v2 != "" {
		cg = &report.Cgroup{Version: 2, Path: v2}
		dir := cgroupDir(cgroupRoot, v2)
		cg.MemoryMax = limit(readFile(dir, "memory.max"))
		cg.MemoryHigh = limit(readFile(dir, "memory.high"))
		if q, p, ok := strings.Cut(readFile(dir, "cpu.max"), " "); ok {
			cg.CPUQuota = cpuQuota(q, p)
		}
	}
	if cg == nil || cg.MemoryMax == 0 && cg.MemoryHigh == 0 && cg.CPUQuota == 0 {
		return nil
	}
	return cg
}

// cgroupDir is the directory of cgroup path p under mount, or the mount
// itself when p is not there (a cgroup namespace).
func cgroupDir(mount, p string) string {
	dir := filepath.Join(mount, p)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir
	}
	return mount
}

func readFile(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// limit parses a byte limit; "max", nothing, or v1's page-rounded
// "unlimited" (about 2^63) are no limit (0).
func limit(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}

// cpuQuota is quota/period in cores; "max" or -1 is no limit (0).
func cpuQuota(quota, period string) float64 {
	q, err1 := strconv.ParseFloat(quota, 64)
	p, err2 := strconv.ParseFloat(period, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return q / p
}
