package rollback

import (
	"context"
	"testing"
	"time"

	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/promote"
)

// stallPR is the real Gitea client, except that the first API call after
// the push that opened a pull request (setting its title, body and label)
// waits until the test lets it go: a promotion stuck on a slow Gitea API.
type stallPR struct {
	promote.Forge
	entered chan struct{}
	release chan struct{}
}

func (s *stallPR) UpdatePullRequest(ctx context.Context, repo forge.Repo, number int64, title, body string, labels ...forge.Label) error {
	close(s.entered)
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Forge.UpdatePullRequest(ctx, repo, number, title, body, labels...)
}

// TestRollbackDoesNotWaitForAPromotion runs a promotion and a rollback of
// the same app in one process on one workspace, as `ensign run` does: the
// promotion of what staging verified is stuck in Gitea's API (opening its
// pull request) when production's canary fails. The revert must land while
// the promotion is still stuck, and the promotion must then finish; before
// promotions stopped taking the repository's lock, the rollback waited for
// the promotion for as long as Gitea took. The promotion, built before the
// revert, is then rebuilt on it and merged.
func TestRollbackDoesNotWaitForAPromotion(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	env := r.env
	if _, err := env.ReleaseToStaging(ctx, "6.6.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.FluxApply(ctx, env.Staging); err != nil {
		t.Fatal(err)
	}
	if err := env.Analyse(ctx, env.Staging, true); err != nil {
		t.Fatal(err)
	}
	staging, err := flaggerclient.NewForConfigOrDie(env.Kube.Config).FlaggerV1beta1().Canaries(env.Staging.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	ws, err := env.Workspace(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Git.Close() })
	cs, err := env.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	stall := &stallPR{Forge: r.forge, entered: make(chan struct{}), release: make(chan struct{})}
	// Production's window (weekdays 09:00-17:00 in Amsterdam) is open.
	mondayNoon := time.Date(2026, 11, 30, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	promotions, err := promote.New(promote.Config{Workspace: ws, Forge: stall, Clusters: cs, Bot: env.Bot.Name, Now: func() time.Time { return mondayNoon }})
	if err != nil {
		t.Fatal(err)
	}
	rollbacks, err := New(Config{Workspace: ws, Forge: r.forge, Clusters: cs, Bot: env.Bot.Name})
	if err != nil {
		t.Fatal(err)
	}

	type promoted struct {
		outs []promote.Outcome
		err  error
	}
	done := make(chan promoted, 1)
	go func() {
		outs, err := promotions.Succeeded(ctx, env.Staging.Cluster, staging)
		done <- promoted{outs, err}
	}()
	select {
	case <-stall.entered:
	case p := <-done:
		t.Fatalf("the promotion ended before opening its pull request: %+v, %v", p.outs, p.err)
	}

	failed := r.fail()
	// A deadlock guard, not a time assertion: the old design would wait here
	// until the promotion's context or this one ended.
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, err := rollbacks.Failed(rctx, env.Production.Cluster, failed)
	if err != nil {
		t.Fatalf("rollback while a promotion is stuck on Gitea: %v", err)
	}
	if out.Action != ActionReverted {
		t.Fatalf("rollback action %s (%s), want %s", out.Action, out.Reason, ActionReverted)
	}
	select {
	case p := <-done:
		t.Fatalf("the promotion ended before it was released: %+v, %v", p.outs, p.err)
	default:
	}
	if tip := r.tip(); tip != out.Commit {
		t.Fatalf("main is at %s, want the revert %s", tip, out.Commit)
	}
	if got := r.pinned(); got != "6.5.0" {
		t.Fatalf("production pins %s after the revert, want 6.5.0", got)
	}

	close(stall.release)
	p := <-done
	if p.err != nil {
		t.Fatalf("the promotion after the rollback: %v", p.err)
	}
	// The promotion's branch was built before the revert changed the same
	// overlay: merged as it was, it would conflict. ensign rebuilds it on
	// the tip and merges that.
	if len(p.outs) != 1 || p.outs[0].PR == 0 || p.outs[0].Action != promote.ActionMerged {
		t.Fatalf("promotion outcomes %+v, want one pull request into production, merged", p.outs)
	}
	if got := r.pinned(); got != "6.6.0" {
		t.Fatalf("production pins %s after the promotion merged, want 6.6.0", got)
	}
}
