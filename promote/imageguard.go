package promote

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageguard"
	"github.com/ensignbot/ensign/overlay"
	"github.com/ensignbot/ensign/policy"
)

// liftExclusions removes, in the promotion's tree, ensign's exclusions of
// the promoted tags from the ImageRepository manifests behind the target
// overlay's image-automation setters, and lists them after changes. ensign
// added them when it rolled the version back; a promotion of a rolled-back
// version lands only when a person asks for it (/promote, `ensign
// promote`, or merging the pull request), which says the version is good
// again. Entries people wrote stay.
func (p promotion) liftExclusions(t overlay.Tree, changes []Change) ([]Change, error) {
	res, err := imageguard.Lift(t, p.to.Overlay, p.verified)
	if err != nil {
		return nil, fmt.Errorf("lift image automation exclusions: %w", err)
	}
	for _, e := range res.Changed {
		changes = append(changes, Change{
			What: fmt.Sprintf("%s: ImageRepository %s exclusionList", e.File, e.Repository),
			Old:  e.Pattern, New: "(lifted: " + e.Tag + " may be picked again)",
		})
	}
	return changes, nil
}

// liftInCluster removes ensign's exclusions of the promoted tags from the
// ImageRepositories in the target stage's cluster whose ImagePolicies are
// not in the repository (those that are were lifted in the promotion
// commit itself). It runs once the promotion landed at commit; a failure
// is logged and reported in the outcome, and does not undo the promotion.
func (s *Service) liftInCluster(ctx context.Context, to *policy.Stage, commit string, out *Outcome) {
	if commit == "" || len(out.Images) == 0 {
		return
	}
	refs, err := verifiedRefs(out.Images, nil)
	if err != nil {
		return
	}
	h := plumbing.NewHash(commit)
	var res imageguard.Result
	err = s.ws.Git.FetchCommit(ctx, h, 1)
	if err == nil {
		var tree *gitops.TreeEditor
		if tree, err = s.ws.Git.Snapshot(h); err == nil {
			res, err = imageguard.Lift(tree, to.Overlay, refs) // the tree is a scratch copy: only res.Remote is used
		}
	}
	if err == nil && len(res.Remote) > 0 {
		out.ClusterLifted, out.LiftSkipped, err = imageguard.LiftInCluster(ctx, s.clusters, to.Canary.Cluster, res.Remote)
	}
	if err != nil {
		out.LiftSkipped = append(out.LiftSkipped, "cannot lift the exclusions in cluster "+to.Canary.Cluster+": "+err.Error())
		s.logger(ctx).Warn("lift image automation exclusions in the cluster", "stage", to.Name, "err", err)
	}
}
