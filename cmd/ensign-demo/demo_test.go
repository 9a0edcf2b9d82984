package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/harness"
)

// TestMain points TMPDIR at a directory of this test binary's own, once (the
// harness keeps its scratch root there for the whole process), so that each
// test can check that the demo left no temporary directory behind.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "ensign-demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// TestDemo runs the whole demo against the real servers with a short lead
// before the window opens, playing Flux and Flagger, and checks that it
// succeeds and leaves nothing behind: no server or ensign process, no
// temporary directory.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo waits for a real promotion window (up to about 100s)")
	}
	testDemo(t, options{windowLead: 40 * time.Second}, 4*time.Minute)
}

// TestDemoOnRealControllers runs the demo on the real Flux and Flagger, as
// `ENSIGN_CONTROLLERS=1 make demo` does.
func TestDemoOnRealControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo waits for real canary analyses and a real promotion window (about 4 minutes)")
	}
	harness.NeedControllers(t)
	out := testDemo(t, options{real: true}, 8*time.Minute)
	for _, want := range []string{"external check gate failed", "Promotion completed!", "target and primary both run 6.5.0 again"} {
		if !strings.Contains(out, want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
}

// testDemo runs the demo with opts, checks what every run of it must say and
// leave behind, and returns the narration.
func testDemo(t *testing.T, opts options, limit time.Duration) string {
	t.Helper()
	tmp := os.Getenv("TMPDIR")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	opts.out = &out
	err := run(ctx, opts)
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
	return out.String()
}
