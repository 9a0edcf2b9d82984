package rollback

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageguard"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
)

// guardEdit is a revert's extra edit (gitops.RevertRequest.Also): the tags
// of the failing images excluded in the ImageRepository manifests behind
// the overlay's image-automation setters, so that Flux's image automation
// does not write the failed version back. key is the revert's key (a
// failure id, or a person's request, which names no failing image).
func guardEdit(stage *policy.Stage, failing []string, key string) func(*gitops.TreeEditor) error {
	refs := failingRefs(failing)
	if len(refs) == 0 {
		return nil
	}
	note := exclusionNote(key)
	return func(ed *gitops.TreeEditor) error {
		_, err := imageguard.Exclude(ed, stage.Overlay, refs, note)
		return err
	}
}

// exclusionNote is the comment on ensign's exclusionList entries.
func exclusionNote(key string) string {
	canary, at, ok := strings.Cut(key, "@")
	if !ok {
		return "excluded by the rollback " + key
	}
	return "excluded after failed canary " + canary + " at " + at
}

func failingRefs(failing []string) []imageref.Ref {
	var refs []imageref.Ref
	for _, s := range failing {
		if r, err := imageref.Parse(s); err == nil {
			refs = append(refs, r)
		}
	}
	return refs
}

// guardImages records which exclusions the revert commit carries and
// excludes in the stage's cluster the tags of the policies whose manifests
// the repository does not hold. It reads the revert commit again, so a
// restart after the push finishes the cluster's part; patching twice
// changes nothing.
func (s *Service) guardImages(ctx context.Context, stage *policy.Stage, f failure, out *Outcome) error {
	refs := failingRefs(out.Failing)
	if out.Commit == "" || len(refs) == 0 || f.canary == nil {
		return nil
	}
	tree, err := s.ws.Git.Snapshot(plumbing.NewHash(out.Commit))
	if err != nil {
		return fmt.Errorf("read the revert %s: %w", short(out.Commit), err)
	}
	note := exclusionNote(f.id)
	res, err := imageguard.Exclude(tree, stage.Overlay, refs, note)
	if err != nil {
		return fmt.Errorf("read the image automation of %s: %w", stage.Overlay, err)
	}
	out.Excluded, out.ExclusionSkipped = res.Present, res.Skipped
	if len(res.Remote) == 0 {
		return nil
	}
	in, skipped, err := imageguard.ExcludeInCluster(ctx, s.clusters, stage.Canary.Cluster, res.Remote, note)
	out.ClusterExcluded, out.ExclusionSkipped = in, append(out.ExclusionSkipped, skipped...)
	if err != nil {
		return fmt.Errorf("exclude the failed tag in cluster %s: %w", stage.Canary.Cluster, err)
	}
	return nil
}

// exclusionReport renders the image-automation part of the rollback
// comment; "" when no setter marks the failing image.
func exclusionReport(cluster string, out Outcome) string {
	var b strings.Builder
	for _, e := range out.Excluded {
		fmt.Fprintf(&b, "- Image automation: the revert excludes tag `%s` in ImageRepository `%s` (`%s`, for ImagePolicy `%s`), so Flux does not write it back; a person's `/promote` of this version lifts it\n", e.Tag, e.Repository, e.File, e.Policy)
	}
	for _, e := range out.ClusterExcluded {
		fmt.Fprintf(&b, "- Image automation: ImagePolicy `%s` is not in this repository, so ensign patched ImageRepository `%s` in cluster `%s` to exclude tag `%s` (`spec.exclusionList`); a person's `/promote` of this version lifts it\n", e.Policy, e.Repository, cluster, e.Tag)
	}
	for _, s := range out.ExclusionSkipped {
		fmt.Fprintf(&b, "- Image automation: not excluded: %s; Flux's image automation may write the failed version back\n", oneLine(s))
	}
	return b.String()
}
