package rollback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// failingImages returns the images the canary's target runs and its
// primary does not.
func (s *Service) failingImages(ctx context.Context, f failure) ([]imageref.Ref, error) {
	target, err := s.clusters.TargetImages(ctx, f.cluster, f.canary)
	if err != nil {
		return nil, err
	}
	primary, err := s.clusters.PrimaryImages(ctx, f.cluster, f.canary)
	if err != nil {
		return nil, err
	}
	promoted := map[string]bool{}
	for _, c := range primary {
		promoted[c.Image] = true
	}
	var out []imageref.Ref
	seen := map[string]bool{}
	for _, c := range target {
		if promoted[c.Image] || seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		r, err := imageref.Parse(c.Image)
		if err != nil {
			return nil, fmt.Errorf("container %s of canary %s/%s: %w", c.Name, f.canary.Namespace, f.canary.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// findFailureRevert looks for ensign's revert of this failure on the deploy branch.
func (s *Service) findFailureRevert(ctx context.Context, stage *policy.Stage, id string) (*gitops.CommitInfo, error) {
	var found *gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		for _, v := range gitops.TrailerValues(c.Message, vocab.TrailerFailure) {
			if v == id {
				found = c
				return gitops.ErrStopWalk
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for an earlier revert of %s: %w", id, err)
	}
	return found, nil
}

// findCanaryRevert looks on the deploy branch for ensign's revert of the
// failing images of this canary (any failure id of it): the real Flagger
// rewrites a Failed canary's lastTransitionTime at every interval, so a
// retry or a restart after the push sees another failure id for the same
// failure. Only used once the branch no longer pins the failing images, so
// a later failure of the same version is never mistaken for this one.
func (s *Service) findCanaryRevert(ctx context.Context, stage *policy.Stage, f failure, failing []imageref.Ref) (*gitops.CommitInfo, error) {
	prefix := f.canaryKey() + "@"
	var found *gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		ours := false
		for _, v := range gitops.TrailerValues(c.Message, vocab.TrailerFailure) {
			ours = ours || strings.HasPrefix(v, prefix)
		}
		if !ours {
			return nil
		}
		images := gitops.TrailerValues(c.Message, vocab.TrailerImage)
		for _, r := range failing {
			if !slices.Contains(images, r.String()) {
				return nil
			}
		}
		found = c
		return gitops.ErrStopWalk
	})
	if err != nil {
		return nil, fmt.Errorf("look for an earlier revert of %s: %w", f.canaryKey(), err)
	}
	return found, nil
}

// ErrNoIntroducer means the commit that brought the failing version into
// the overlay is not within the searched history.
var ErrNoIntroducer = errors.New("commit that introduced the failing version not found")

// introducedBy finds the newest first-parent commit that made the overlay
// pin one of the failing images its first parent did not pin.
func (s *Service) introducedBy(ctx context.Context, stage *policy.Stage, failing []imageref.Ref) (*gitops.CommitInfo, error) {
	// Collect the candidates first: reading trees of parents may need
	// history a shallow cache lacks, which cannot be fetched inside a walk.
	var candidates []*gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		candidates = append(candidates, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the commit that introduced the failing version: %w", err)
	}
	// A state of the overlay that does not parse (a typo fixed in the next
	// commit) is skipped: what a readable state pins is compared with the
	// nearest older readable state. Only when a failing image appears across
	// an unreadable state is the introducing change unknown.
	var across *gitops.CommitInfo // unreadable state a pinned image may have come in with
	var pending map[string]bool   // images pinned just after it
	for _, c := range candidates {
		now, err := s.pinnedAt(ctx, c.Hash, stage, failing)
		if errors.Is(err, errUnreadable) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for ref := range pending {
			if !now[ref] {
				return nil, &UnreadableError{Commit: across, Overlay: stage.Overlay, Image: ref}
			}
		}
		pending = nil
		var before map[string]bool
		if len(c.Parents) > 0 {
			before, err = s.pinnedAt(ctx, c.Parents[0], stage, failing)
			if errors.Is(err, errUnreadable) {
				if across, err = s.ws.Git.Commit(c.Parents[0]); err != nil {
					return nil, err
				}
				pending = now
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		for ref := range now {
			if !before[ref] {
				return c, nil
			}
		}
	}
	if len(pending) > 0 {
		refs := slices.Sorted(maps.Keys(pending))
		return nil, &UnreadableError{Commit: across, Overlay: stage.Overlay, Image: refs[0]}
	}
	return nil, fmt.Errorf("%w in the last %d commits changing %s", ErrNoIntroducer, s.history, stage.Overlay)
}

// errUnreadable marks an overlay state that does not parse.
var errUnreadable = errors.New("the overlay does not parse")

// UnreadableError means the failing version came in across a state of the
// overlay that does not parse, so the commit to revert is unknown.
type UnreadableError struct {
	// Commit is the unreadable state.
	Commit  *gitops.CommitInfo
	Overlay string
	Image   string
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("%s came into %s next to %s, where the overlay does not parse; ensign cannot tell which commit to revert", e.Image, e.Overlay, short(e.Commit.Hash.String()))
}

// pinnedAt is pinned for the overlay at a commit, fetching the commit if a
// shallow cache lacks it; errUnreadable if the overlay does not parse there.
func (s *Service) pinnedAt(ctx context.Context, commit plumbing.Hash, stage *policy.Stage, refs []imageref.Ref) (map[string]bool, error) {
	if err := s.ws.Git.FetchCommit(ctx, commit, 1); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", short(commit.String()), err)
	}
	tree, err := s.ws.Git.Snapshot(commit)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", stage.Overlay, short(commit.String()), err)
	}
	got, err := pinned(tree, stage.Overlay, refs)
	if err != nil {
		s.logger(ctx).Warn("skipping an unreadable state of the overlay", "overlay", stage.Overlay, "commit", short(commit.String()), "err", err)
		return nil, fmt.Errorf("%w: %s at %s: %w", errUnreadable, stage.Overlay, short(commit.String()), err)
	}
	return got, nil
}
