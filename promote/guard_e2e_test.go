package promote

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge"
)

// A write user cannot move the head of ensign's promotion: Gitea refuses a
// push to the pull request's head, and the same topic pushed by someone
// else opens their own pull request, which ensign leaves alone. When the
// window opens, ensign merges exactly what it built.
func TestNobodyElseMovesAPromotion(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	outs, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Action != ActionQueued {
		t.Fatalf("outcomes %+v, want one queued promotion", outs)
	}
	pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.AGit || pr.HeadBranch != fmt.Sprintf("refs/pull/%d/head", pr.Number) {
		t.Fatalf("#%d has head %s (AGit %v); want a pull request proposed by AGit", pr.Number, pr.HeadBranch, pr.AGit)
	}
	dir := t.TempDir()
	devURL := r.env.Gitea.GitURL(r.env.Org, r.env.Repo, r.env.Dev)
	gitIn(t, dir, "clone", "-q", devURL, ".")
	gitIn(t, dir, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q", "--allow-empty", "-m", "tweak")
	if out, err := gitOut(dir, "push", "-f", "origin", "HEAD:"+pr.HeadBranch); err == nil {
		t.Fatalf("Gitea let a write user push to %s:\n%s", pr.HeadBranch, out)
	}
	topic := r.env.Bot.Name + "/" + promotionTopic("podinfo", "production", outs[0].ID)
	if out, err := gitOut(dir, "push", "-o", "force-push=true", "origin", "HEAD:refs/for/main/"+topic); err != nil {
		t.Fatalf("the developer's own proposal: %v\n%s", err, out)
	}
	if got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr.Number); err != nil || got.HeadSHA != pr.HeadSHA {
		t.Fatalf("#%d's head moved %s -> %s (%v)", pr.Number, pr.HeadSHA, got.HeadSHA, err)
	}
	r.now = mondayNoon
	if err := r.service(nil).MergeQueued(ctx, mondayNoon); err != nil {
		t.Fatal(err)
	}
	open, err := r.forge.ListOpenPullRequests(ctx, r.env.ForgeRepo(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Author != r.env.Dev.Name {
		t.Fatalf("open pull requests %+v, want only the developer's own", open)
	}
	got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr.Number)
	if err != nil || !got.Merged || got.HeadSHA != pr.HeadSHA {
		t.Fatalf("#%d merged=%v head=%s (%v); want ensign's own head %s merged", pr.Number, got.Merged, got.HeadSHA, err, pr.HeadSHA)
	}
	if tag, err := r.env.PinnedTag(ctx, r.env.Production); err != nil || tag != "6.5.1" {
		t.Fatalf("production pins %q (%v), want 6.5.1", tag, err)
	}
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := gitOut(dir, args...); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// asBranchPR turns ensign's proposed promotion pr into one from a branch,
// as ensign opened them before it proposed promotions by AGit: the same
// commit on the promotion branch, the same title, body and labels, and pr
// closed.
func (r *rig) asBranchPR(t *testing.T, pr forge.PullRequest, id string) forge.PullRequest {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	botURL := r.env.Gitea.GitURL(r.env.Org, r.env.Repo, r.env.Bot)
	gitIn(t, dir, "fetch", "-q", botURL, pr.HeadBranch)
	branch := "ensign/" + promotionTopic("podinfo", "production", id)
	gitIn(t, dir, "push", "-q", botURL, "FETCH_HEAD:refs/heads/"+branch)
	if err := r.forge.ClosePullRequest(ctx, r.env.ForgeRepo(), pr.Number, ""); err != nil {
		t.Fatal(err)
	}
	legacy, _, err := r.forge.EnsurePullRequest(ctx, r.env.ForgeRepo(), forge.NewPullRequest{Head: branch, Base: "main", Title: pr.Title, Body: pr.Body})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range pr.Labels {
		if _, err := r.forge.AddLabel(ctx, r.env.ForgeRepo(), legacy.Number, forge.Label{Name: l, Color: "#1d76db"}); err != nil {
			t.Fatal(err)
		}
	}
	if legacy.AGit || legacy.HeadBranch != branch || legacy.HeadSHA != pr.HeadSHA {
		t.Fatalf("the branch pull request %+v is not %s at %s", legacy, branch, pr.HeadSHA)
	}
	return legacy
}

// A write user pushes onto the branch of a promotion ensign opened before it
// proposed promotions by AGit, while the promotion is queued (ensign run
// protects the branch prefix, but an operator may have switched that off):
// when the window opens, ensign puts its own commit back, says so on the
// pull request, and merges only what it built.
func TestForeignCommitOnPromotionBranchIsReplaced(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"a new file":          {"apps/podinfo/base/evil.yaml": "kind: Pod\nspec: {containers: [{name: x, securityContext: {privileged: true}}]}\n"},
		"the policy":          {".ensign.yaml": "apiVersion: ensign.dev/v1alpha1\n# lowered\n"},
		"the promoted images": {"apps/podinfo/overlays/production/kustomization.yaml": "images: [{name: x, newTag: evil}]\n"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, saturday)
			ctx := context.Background()
			verified := r.verify("6.5.1")
			outs, err := r.service(nil).Succeeded(ctx, "staging", verified)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 1 || outs[0].Action != ActionQueued {
				t.Fatalf("outcomes %+v, want one queued promotion", outs)
			}
			proposed, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
			if err != nil {
				t.Fatal(err)
			}
			pr := r.asBranchPR(t, proposed, outs[0].ID)
			policyBefore, err := r.env.File(ctx, ".ensign.yaml")
			if err != nil {
				t.Fatal(err)
			}
			foreign := r.pushForeign(t, pr, files)
			r.now = mondayNoon
			s := r.service(nil)
			if err := s.MergeQueued(ctx, mondayNoon); err != nil {
				t.Fatal(err)
			}
			got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr.Number)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Merged || got.HeadSHA == foreign {
				t.Fatalf("#%d merged=%v head=%s; want ensign's own commit merged instead of %s", pr.Number, got.Merged, got.HeadSHA, foreign)
			}
			// Only the promotion reached main.
			if tag, err := r.env.PinnedTag(ctx, r.env.Production); err != nil || tag != "6.5.1" {
				t.Fatalf("production pins %q (%v), want 6.5.1", tag, err)
			}
			if _, err := r.env.File(ctx, "apps/podinfo/base/evil.yaml"); err == nil {
				t.Fatal("the pushed file reached main")
			}
			if pol, err := r.env.File(ctx, ".ensign.yaml"); err != nil || pol != policyBefore {
				t.Fatalf("the policy on main changed (%v)", err)
			}
			cs, err := r.forge.ListComments(ctx, r.env.ForgeRepo(), pr.Number)
			if err != nil {
				t.Fatal(err)
			}
			if !anyContains(cs, "Replaced a commit ensign did not make") || !anyContains(cs, short(foreign)) {
				t.Fatalf("the pull request does not say its head was replaced: %+v", cs)
			}
		})
	}
}

// A promotion pull request someone retargeted is not ensign's promotion any
// more: ensign neither merges nor repairs it, and says why.
func TestRetargetedPromotionIsRefused(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	verified := r.verify("6.5.1")
	outs, err := r.service(nil).Succeeded(ctx, "staging", verified)
	if err != nil {
		t.Fatal(err)
	}
	api, err := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.CreateBranch(r.env.Org, r.env.Repo, gitea.CreateBranchOption{BranchName: "release", OldBranchName: "main"}); err != nil {
		t.Fatalf("create the release branch: %v", err)
	}
	if _, err := r.env.CommitTo(ctx, r.env.Dev, "release", "a release branch", map[string]string{"notes.md": "release\n"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.EditPullRequest(r.env.Org, r.env.Repo, outs[0].PR, gitea.EditPullRequestOption{Base: "release"}); err != nil {
		t.Fatalf("retarget #%d: %v", outs[0].PR, err)
	}
	r.now = mondayNoon
	again, err := r.service(nil).Succeeded(ctx, "staging", verified)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Action != ActionRefused || !strings.Contains(again[0].Reason, "targets release") {
		t.Fatalf("outcome %+v, want refused because it targets release", again)
	}
	got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
	if err != nil {
		t.Fatal(err)
	}
	if got.Merged {
		t.Fatal("ensign merged a retargeted promotion")
	}
	cs, err := r.forge.ListComments(ctx, r.env.ForgeRepo(), got.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !anyContains(cs, "Not merged") {
		t.Fatalf("the pull request does not say why it was not merged: %+v", cs)
	}
}

// pushForeign pushes files as the developer onto pr's branch and waits for
// Gitea to show the new head; it returns that head.
func (r *rig) pushForeign(t *testing.T, pr forge.PullRequest, files map[string]string) string {
	t.Helper()
	ctx := context.Background()
	foreign, err := r.env.CommitTo(ctx, r.env.Dev, pr.HeadBranch, "tweak", files)
	if err != nil {
		t.Fatal(err)
	}
	// Gitea updates the pull request's head asynchronously.
	deadline := time.Now().Add(30 * time.Second)
	for pr.HeadSHA != foreign {
		if time.Now().After(deadline) {
			t.Fatalf("Gitea never showed head %s on #%d", foreign, pr.Number)
		}
		time.Sleep(100 * time.Millisecond)
		if pr, err = r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr.Number); err != nil {
			t.Fatal(err)
		}
	}
	return foreign
}

// The untouched promotion still merges: the check accepts what ensign built,
// also after the deploy branch moved on.
func TestOwnPromotionMergesAfterTheBranchMoved(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	outs, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.env.Busywork(ctx, 3); err != nil {
		t.Fatal(err)
	}
	r.now = mondayNoon
	if err := r.service(nil).MergeQueued(ctx, mondayNoon); err != nil {
		t.Fatal(err)
	}
	got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Merged {
		t.Fatalf("ensign's own promotion #%d was not merged in an open window", got.Number)
	}
}
