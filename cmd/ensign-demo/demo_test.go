package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/harness"
)

// TestDemo runs the whole demo against the real servers with a short lead
// before the window opens, and checks that it succeeds and leaves nothing
// behind: no server or ensign process, no temporary directory.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo waits for a real promotion window (up to about 100s)")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	err := run(ctx, options{windowLead: 40 * time.Second, out: &out})
	t.Log(out.String())
	if errors.Is(err, harness.ErrNoBinaries) && os.Getenv(harness.E2EEnv) == "" {
		t.Skipf("integration test skipped: %v; set %s=1 to make this a failure", err, harness.E2EEnv)
	}
	if err != nil {
		t.Fatalf("the demo failed: %v", err)
	}
	for _, want := range []string{"labels [promotion, queued]", "Queued: outside allow window", "| production |", "merged at", "This reverts commit", "reconcile.fluxcd.io/requestedAt=", "Normal Rollback: reverted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	if pids, err := harness.OwnedProcesses(os.Getpid()); err != nil || len(pids) > 0 {
		t.Errorf("processes left running after the demo: %v (err %v)", pids, err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "ensign-demo-*"))
	if len(left) > 0 {
		t.Errorf("the demo left its temporary directory behind: %v", left)
	}
}
