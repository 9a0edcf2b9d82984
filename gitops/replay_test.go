package gitops

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReplayDump replays one case a differential test saved (its
// fast-import stream): ENSIGN_REPLAY=<file>:<target mark>. It is skipped
// unless that is set.
func TestReplayDump(t *testing.T) {
	spec := os.Getenv("ENSIGN_REPLAY")
	if spec == "" {
		t.Skip()
	}
	file, mark, _ := strings.Cut(spec, ":")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := strconv.Atoi(mark)
	h := &history{branch: "replay"}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "commit refs/heads/") {
			h.branch = strings.TrimPrefix(line, "commit refs/heads/")
			h.marks++
		}
	}
	h.stream.Write(data)
	r := newDiffRunner(t)
	r.each(1, func(int) (*history, int) { return h, target }, func(i int, h *history, target int, c caseResult) {
		t.Logf("git revert said:\n%s", c.gitOut)
		if c.got != c.want {
			t.Errorf("ensign %q, git %q", c.got, c.want)
		}
	})
}
