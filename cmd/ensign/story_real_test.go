package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// TestStoryOnRealControllers tells ensign's story with the real Flux
// (source-controller and kustomize-controller) applying Git to the cluster
// and the real Flagger (kubernetes provider, blue/green) analysing what it
// applied, on Deployments that kube-controller-manager, kube-scheduler and
// kwok roll out. The test only pushes CI's release, asks Flux to fetch after
// a push (as Gitea's push webhook to Flux's receiver would), moves ensign's
// clock to open the window, and decides each analysis through the canaries'
// rollout webhook: staging passes, production fails. Flagger and Flux do
// everything else, and the test asserts on the objects they write.
func TestStoryOnRealControllers(t *testing.T) {
	k, _ := harness.Workloads(t) // skips without the real controllers
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	// Flux and Flagger confined to this story's namespaces: the other tests
	// of this binary play them on the same API server.
	prefix := harness.UniqueName("r") + "-"
	ctl, err := scenario.StartControllers(ctx, k, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctl.Stop(); err != nil {
			t.Error(err)
		}
	})
	gate, err := scenario.StartGate()
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, ams)
	monday9 := time.Date(2026, 11, 30, 9, 0, 0, 0, ams)
	r := newStoryRig(t, saturday, scenario.Options{Prefix: prefix, Gate: gate})
	env := r.env
	gate.Fail(env.Production.Namespace, true)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	images := func(s scenario.Stage, target, primary string) {
		t.Helper()
		for name, tag := range map[string]string{"podinfo": target, "podinfo-primary": primary} {
			img, err := env.Image(ctx, s, name)
			must(err)
			if img != scenario.Image+":"+tag {
				t.Fatalf("%s deployment %s runs %s, want tag %s", s.Name, name, img, tag)
			}
		}
	}
	images(env.Production, "6.5.0", "6.5.0")

	// CI releases 6.5.1 to staging; Flux applies it; Flagger's analysis
	// passes and promotes it to the staging primary.
	sha, err := env.ReleaseToStaging(ctx, "6.5.1")
	must(err)
	must(env.Reconcile(ctx))
	must(env.WaitApplied(ctx, env.Staging, sha, time.Minute))
	must(env.WaitPhase(ctx, env.Staging, flaggerv1.CanaryPhaseSucceeded, 3*time.Minute))
	images(env.Staging, "6.5.1", "6.5.1")

	// ensign opens the promotion PR; the window is closed on Saturday.
	var pr *gitea.PullRequest
	r.waitFor("a queued promotion pull request", time.Minute, func() (bool, error) {
		prs := r.promotionPRs()
		if len(prs) == 1 && hasLabel(prs[0], "queued") {
			pr = prs[0]
			return true, nil
		}
		return false, nil
	})
	for _, want := range []string{scenario.Image + ":6.5.1", sha, "6.5.0"} {
		if !strings.Contains(pr.Body, want) {
			t.Fatalf("promotion PR body lacks %q:\n%s", want, pr.Body)
		}
	}

	// Monday 09:00: the window opens and ensign merges.
	r.clock.Set(monday9)
	r.waitFor("the promotion to merge", time.Minute, func() (bool, error) {
		p, _, err := r.api().GetPullRequest(env.Org, env.Repo, pr.Index)
		if err == nil && p.HasMerged {
			pr = p
		}
		return err == nil && p.HasMerged, err
	})
	mergeSHA := *pr.MergedCommitID

	// Flux applies the merge to production; Flagger's analysis fails and it
	// rolls back: the primary keeps 6.5.0, the target keeps the failed 6.5.1
	// scaled to zero.
	must(env.Reconcile(ctx))
	must(env.WaitApplied(ctx, env.Production, mergeSHA, time.Minute))
	must(env.WaitPhase(ctx, env.Production, flaggerv1.CanaryPhaseFailed, 3*time.Minute))
	failedAt := time.Now()

	// ensign reverts the merge on main and asks Flux to reconcile; Flux
	// applies the revert with no help from the test.
	var revert *gitea.Commit
	r.waitFor("the revert on main", time.Minute, func() (bool, error) {
		cs := r.commits(1)
		if len(cs) == 1 && strings.Contains(cs[0].RepoCommit.Message, "This reverts commit "+mergeSHA) {
			revert = cs[0]
			return true, nil
		}
		return false, nil
	})
	revertedAt := time.Now()
	must(env.WaitApplied(ctx, env.Production, revert.SHA, time.Minute))
	t.Logf("Flagger Failed -> revert on main %v -> Flux applied it %v", revertedAt.Sub(failedAt).Round(time.Millisecond), time.Since(revertedAt).Round(time.Millisecond))
	for _, want := range []string{"Ensign-Reverts: " + mergeSHA, "Ensign-Image: " + scenario.Image + ":6.5.1"} {
		if !strings.Contains(revert.RepoCommit.Message, want) {
			t.Fatalf("revert message lacks %q:\n%s", want, revert.RepoCommit.Message)
		}
	}

	// The cluster settles: Flagger records the reverted target's spec as
	// the promoted one and stays Failed without a new analysis; target and
	// primary run 6.5.0.
	r.waitFor("Flagger to see the reverted target", time.Minute, func() (bool, error) {
		c, err := env.Canary(ctx, env.Production)
		return err == nil && c.Status.LastAppliedSpec == c.Status.LastPromotedSpec, err
	})
	images(env.Production, "6.5.0", "6.5.0")
	r.waitFor("the rollback comment on the promotion PR", 30*time.Second, func() (bool, error) {
		return r.rollbackComments(pr.Index, mergeSHA) == 1, nil
	})
	c := r.rollbackComment(pr.Index, mergeSHA)
	for _, want := range []string{revert.SHA, scenario.Image + ":6.5.1", "external check gate failed"} {
		if !strings.Contains(c, want) {
			t.Fatalf("rollback comment lacks %q:\n%s", want, c)
		}
	}
	r.waitFor("a Rollback event on the production canary", 30*time.Second, func() (bool, error) {
		return r.countEvents(env.Production, "Rollback", "reverted") == 1, nil
	})

	// And ensign does nothing more while Flagger keeps rewriting the Failed
	// status every 10 s: no second revert, no second comment or event, no
	// promotion of 6.5.1 or 6.5.0 again.
	head, prs, gateCalls := r.commits(1)[0].SHA, len(r.promotionPRs()), gate.Calls(env.Production.Namespace)
	before, err := env.Canary(ctx, env.Production)
	must(err)
	r.waitFor("two more Failed status writes by Flagger", time.Minute, func() (bool, error) {
		c, err := env.Canary(ctx, env.Production)
		return err == nil && c.Status.LastTransitionTime.Sub(before.Status.LastTransitionTime.Time) >= 15*time.Second, err
	})
	now, err := env.Canary(ctx, env.Production)
	must(err)
	if now.Status.Phase != flaggerv1.CanaryPhaseFailed || gate.Calls(env.Production.Namespace) != gateCalls {
		t.Fatalf("Flagger analysed again after the revert: phase %s, gate calls %d -> %d", now.Status.Phase, gateCalls, gate.Calls(env.Production.Namespace))
	}
	if got := r.commits(1)[0].SHA; got != head {
		t.Fatalf("main moved after the rollback settled (%s -> %s)", head, got)
	}
	if n := len(r.promotionPRs()); n != prs {
		t.Fatalf("%d promotion PRs after the rollback settled, want %d", n, prs)
	}
	if n := r.rollbackComments(pr.Index, mergeSHA); n != 1 {
		t.Fatalf("%d rollback comments, want 1", n)
	}
	if n := r.countEvents(env.Production, "Rollback", ""); n != 1 {
		t.Fatalf("%d Rollback events on the production canary, want 1", n)
	}
	images(env.Production, "6.5.0", "6.5.0")
	images(env.Staging, "6.5.1", "6.5.1")
}
