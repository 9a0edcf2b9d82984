package rollback

import (
	"context"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/internal/scenario"
)

// A write user cannot use /rollback to have ensign push changes outside the
// stage's overlay: a promotion whose merge also changed other files is
// refused, and so is a commit that is not on the deploy branch.
func TestRollbackCommandRevertsOnlyOverlayChanges(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	env := r.env
	branch := "sneaky-" + time.Now().Format("150405.000")
	msg := "Promote podinfo 6.5.2 to production\n\nEnsign-Promotion: podinfo/production\n"
	if _, err := env.CommitOnBranch(ctx, env.Dev, branch, msg, map[string]string{
		env.Production.Overlay + "/kustomization.yaml": strings.ReplaceAll(r.fileAt(t, env.Production.Overlay+"/kustomization.yaml"), "6.5.1", "6.5.2"),
		"apps/podinfo/base/extra.yaml":                 "kind: ConfigMap\n",
	}); err != nil {
		t.Fatal(err)
	}
	pr := r.mergeByHand(t, branch)
	before := r.tip()
	s := r.service(nil, nil)
	out, err := s.RollbackPR(ctx, PRRequest{PR: pr, Person: env.Dev.Name})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionOutsideOverlay || !strings.Contains(out.Reason, "outside "+env.Production.Overlay) {
		t.Fatalf("/rollback of a merge that changed other files: %+v, want a refusal", out)
	}
	if after := r.tip(); after != before {
		t.Fatalf("main moved from %s to %s after a refused /rollback", before, after)
	}

	// An overlay-only commit named by sha is not refused (here its revert
	// conflicts with the later change of the same line, as git's would).
	out, err = s.RollbackPR(ctx, PRRequest{PR: pr, Person: env.Dev.Name, SHA: r.change.MergeSHA})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionConflict || out.Reverted != r.change.MergeSHA {
		t.Fatalf("/rollback of an overlay-only change: %+v, want its revert tried (and conflicting)", out)
	}
}

// A person's /rollback of an overlay-only promotion is a revert pull
// request, never a push with ensign's rights, whatever the policy's mode.
func TestRollbackCommandOpensARevertPullRequest(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	path := r.env.Production.Overlay + "/kustomization.yaml"
	branch := "promote-next-" + time.Now().Format("150405.000")
	msg := "Promote podinfo 6.5.2 to production\n\nEnsign-Promotion: podinfo/production\n"
	if _, err := r.env.CommitOnBranch(ctx, r.env.Dev, branch, msg, map[string]string{
		path: strings.ReplaceAll(r.fileAt(t, path), "6.5.1", "6.5.2"),
	}); err != nil {
		t.Fatal(err)
	}
	pr := r.mergeByHand(t, branch)
	before := r.tip()
	out, err := r.service(nil, nil).RollbackPR(ctx, PRRequest{PR: pr, Person: r.env.Dev.Name})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionRevertPR || out.PR == 0 {
		t.Fatalf("/rollback: %+v, want a revert pull request", out)
	}
	if after := r.tip(); after != before {
		t.Fatalf("a person's /rollback pushed to main (%s -> %s)", before, after)
	}
}

// mergeByHand opens a pull request of branch as the developer and merges it.
func (r *rig) mergeByHand(t *testing.T, branch string) int64 {
	t.Helper()
	ctx := context.Background()
	env := r.env
	c, err := env.Gitea.Client(ctx, env.Dev.Token)
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.CreatePullRequest(env.Org, env.Repo, gitea.CreatePullRequestOption{Head: branch, Base: "main", Title: branch})
	if err != nil {
		t.Fatal(err)
	}
	if err := scenario.Wait(ctx, 30*time.Second, "the merge", func() (bool, error) {
		if _, _, err := c.MergePullRequest(env.Org, env.Repo, pr.Index, gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge}); err != nil {
			return false, err
		}
		p, _, err := c.GetPullRequest(env.Org, env.Repo, pr.Index)
		return err == nil && p.HasMerged, err
	}); err != nil {
		t.Fatal(err)
	}
	return pr.Index
}

func (r *rig) fileAt(t *testing.T, path string) string {
	t.Helper()
	s, err := r.env.File(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A YAML typo in the overlay's history, fixed in the next commit, does not
// block the rollback of the change that really introduced the version.
func TestUnreadableHistoryIsSkipped(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	path := r.env.Production.Overlay + "/kustomization.yaml"
	good := r.fileAt(t, path)
	if _, err := r.env.Commit(ctx, r.env.Dev, "oops", map[string]string{path: good + "images: [unclosed\n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.env.Commit(ctx, r.env.Dev, "fix the typo", map[string]string{path: good}); err != nil {
		t.Fatal(err)
	}
	out, err := r.service(nil, nil).Failed(ctx, "production", r.fail())
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted || out.Reverted != r.change.MergeSHA {
		t.Fatalf("outcome %+v, want the revert of the introducing merge %s", out, r.change.MergeSHA)
	}
	if r.pinned() != "6.5.0" {
		t.Fatalf("production pins %s after the revert, want 6.5.0", r.pinned())
	}
}
