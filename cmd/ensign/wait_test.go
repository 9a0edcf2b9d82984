package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/promote"
)

// `ensign promote --wait` follows the promotion to its outcome: merged,
// applied by Flux, then the production canary's result; exit 0 when it
// Succeeded, 4 when it Failed and the running ensign rolled it back.
func TestPromoteWaitFollowsToTheOutcome(t *testing.T) {
	for _, succeed := range []bool{true, false} {
		name := map[bool]string{true: "succeeded", false: "rolled back"}[succeed]
		t.Run(name, func(t *testing.T) {
			ams, _ := time.LoadLocation("Europe/Amsterdam")
			r := newStoryRig(t, time.Date(2026, 11, 30, 12, 0, 0, 0, ams), scenario.Options{})
			env, ctx := r.env, context.Background()
			if _, err := env.ReleaseToStaging(ctx, "6.5.1"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.FluxApply(ctx, env.Staging); err != nil {
				t.Fatal(err)
			}
			if err := env.Analyse(ctx, env.Staging, true); err != nil {
				t.Fatal(err)
			}
			// The pipeline asks now; the running ensign may promote too:
			// both converge on the same promotion.
			for k, v := range map[string]string{
				"ENSIGN_GITEA_URL": r.cfg.GiteaURL, "ENSIGN_GITEA_TOKEN": string(r.cfg.GiteaToken),
				"ENSIGN_REPOS": env.Org + "/" + env.Repo, "ENSIGN_KUBECONFIGS": "staging=" + env.Kube.Kubeconfig + ",production=" + env.Kube.Kubeconfig,
				"ENSIGN_DATA_DIR": t.TempDir(), "ENSIGN_LOG_LEVEL": "error",
			} {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			var mu sync.Mutex
			code := make(chan int, 1)
			go func() {
				var out, errOut bytes.Buffer
				c := promoteCmd(ctx, []string{"--app", "podinfo", "--to", "production", "--now", "--wait", "-o", "json", "--timeout", "3m"}, &out, &errOut)
				mu.Lock()
				stdout, stderr = out, errOut
				mu.Unlock()
				code <- c
			}()
			// Flux applies main once production pins 6.5.1; Flagger analyses.
			r.waitFor("the promotion merged", 90*time.Second, func() (bool, error) {
				tag, err := env.PinnedTag(ctx, env.Production)
				return tag == "6.5.1", err
			})
			if _, err := env.FluxApply(ctx, env.Production); err != nil {
				t.Fatal(err)
			}
			if err := env.Analyse(ctx, env.Production, succeed); err != nil {
				t.Fatal(err)
			}
			var got int
			select {
			case got = <-code:
			case <-time.After(4 * time.Minute):
				t.Fatal("ensign promote --wait did not return")
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[bool]int{true: exitOK, false: exitRolledBack}[succeed]
			if got != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout.String(), stderr.String())
			}
			var steps []promote.Milestone
			dec := json.NewDecoder(strings.NewReader(stdout.String()))
			for dec.More() {
				var v struct {
					Step   promote.Milestone `json:"step"`
					Action string            `json:"action"`
				}
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("stdout is not JSON objects: %v\n%s", err, stdout.String())
				}
				if v.Step != "" {
					steps = append(steps, v.Step)
				}
			}
			wantSteps := []promote.Milestone{promote.MilestoneMerged, promote.MilestoneApplied, promote.MilestoneSucceeded}
			if !succeed {
				wantSteps = []promote.Milestone{promote.MilestoneMerged, promote.MilestoneApplied, promote.MilestoneFailed, promote.MilestoneRolledBack}
			}
			if strings.Join(milestones(steps), ",") != strings.Join(milestones(wantSteps), ",") {
				t.Fatalf("steps %v, want %v\n%s", steps, wantSteps, stdout.String())
			}
		})
	}
}

func milestones(ms []promote.Milestone) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}
