package promote

import (
	"context"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge"
)

// A write user pushes onto ensign's promotion branch while the promotion is
// queued (ensign run protects the branch prefix, but an operator may have
// switched that off): when the window opens, ensign puts its own commit
// back, says so on the pull request, and merges only what it built.
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
			pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
			if err != nil {
				t.Fatal(err)
			}
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
