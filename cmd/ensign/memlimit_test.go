package main

import (
	"io/fs"
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      string
		files    map[string]string
		soft     int64
		contains string
	}{
		{"cgroup v2 limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "268435456\n"}, 241591910, "230 MiB: 90% of the container's 256 MiB"},
		{"cgroup v2 without a limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, "no container memory limit"},
		{"cgroup v1 limit", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "134217728"}, 120795955, "of the container's 128 MiB"},
		{"cgroup v1 without a limit", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, "no container memory limit"},
		{"GOMEMLIMIT wins", "48MiB", map[string]string{"/sys/fs/cgroup/memory.max": "268435456"}, 0, "GOMEMLIMIT=48MiB"},
		{"GOMEMLIMIT=off wins", "off", map[string]string{"/sys/fs/cgroup/memory.max": "268435456"}, 0, "GOMEMLIMIT=off"},
		{"no cgroup", "", nil, 0, "no cgroup memory limit found"},
		{"garbage", "", map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, 0, "no container memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.env
				}
				return ""
			}
			read := func(name string) ([]byte, error) {
				if s, ok := tc.files[name]; ok {
					return []byte(s), nil
				}
				return nil, fs.ErrNotExist
			}
			soft, what := memoryLimit(getenv, read)
			if soft != tc.soft || !strings.Contains(what, tc.contains) {
				t.Fatalf("memoryLimit = %d, %q; want %d and %q", soft, what, tc.soft, tc.contains)
			}
		})
	}
}
