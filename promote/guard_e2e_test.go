package promote

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A write user pushes onto ensign's promotion branch while the promotion is
// queued; when the window opens, ensign must not merge what it did not
// build, and must say so on the pull request.
func TestForeignCommitOnPromotionBranchIsNeverMerged(t *testing.T) {
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
			if len(outs) != 1 || outs[0].Action != "queued" {
				t.Fatalf("outcomes %+v, want one queued promotion", outs)
			}
			pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
			if err != nil {
				t.Fatal(err)
			}
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
			r.now = mondayNoon
			s := r.service(nil)
			if err := s.MergeQueued(ctx, mondayNoon); err != nil {
				t.Fatal(err)
			}
			// A resync of the canary adopts the pull request and must refuse too.
			again, err := s.Succeeded(ctx, "staging", verified)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != 1 || again[0].Action != "refused" || !strings.Contains(again[0].Reason, "not the promotion ensign built") {
				t.Fatalf("resync outcome %+v, want refused", again)
			}
			got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr.Number)
			if err != nil {
				t.Fatal(err)
			}
			if got.Merged {
				t.Fatal("ensign merged a promotion branch someone else pushed to")
			}
			cs, err := r.forge.ListComments(ctx, r.env.ForgeRepo(), pr.Number)
			if err != nil {
				t.Fatal(err)
			}
			if !anyContains(cs, "Not merged") || !anyContains(cs, short(foreign)) {
				t.Fatalf("the pull request does not say why it was not merged: %+v", cs)
			}
		})
	}
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
