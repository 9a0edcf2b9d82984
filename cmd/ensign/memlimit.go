package main

import (
	"fmt"
	"strconv"
	"strings"
)

// memoryLimitShare is how much of the container's memory limit the Go heap
// may use before the garbage collector works harder to stay under it: the
// rest is the binary's pages, stacks and the runtime's own.
const memoryLimitShare = 0.9

// cgroupMemoryFiles are where a container's memory limit is read: cgroup v2,
// then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// memoryLimit decides the Go runtime's soft memory limit: memoryLimitShare
// of the container's memory limit, so that the heap's growth between
// collections (up to twice the live heap) does not run into the limit and
// an OOM kill. GOMEMLIMIT, when set (to a size or "off"), wins; so does a
// container with no limit. soft is 0 when ensign should set none; what
// says what was decided, to log.
func memoryLimit(getenv func(string) string, readFile func(string) ([]byte, error)) (soft int64, what string) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT=" + v + " (set by the environment)"
	}
	for _, f := range cgroupMemoryFiles {
		data, err := readFile(f)
		if err != nil {
			continue
		}
		limit, ok := cgroupLimit(data)
		if !ok {
			return 0, "no container memory limit (" + f + "): no Go memory limit"
		}
		soft = int64(float64(limit) * memoryLimitShare)
		return soft, fmt.Sprintf("Go memory limit %d MiB: %.0f%% of the container's %d MiB (%s; GOMEMLIMIT overrides it)",
			soft>>20, memoryLimitShare*100, limit>>20, f)
	}
	return 0, "no cgroup memory limit found: no Go memory limit"
}

// cgroupLimit parses a cgroup memory limit file: a byte count, or "max"
// (v2) or a value near the maximum int64 (v1) for none.
func cgroupLimit(data []byte) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
