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

// recent is what a batch of failures reads from the deploy branch's history
// once for all of them instead of once each: ensign's reverts of failures
// among the newest commits, and the newest changes of each failing
// overlay.
type recent struct {
	byID map[string]*gitops.CommitInfo
	// all are the commits with an Ensign-Failure trailer, newest first.
	all []*gitops.CommitInfo
	// overlays are the newest commits changing each overlay, by path.
	overlays map[string]*overlayChanges
}

// overlayChanges are the newest commits changing an overlay, newest first;
// complete when they are all the search would look at.
type overlayChanges struct {
	commits  []*gitops.CommitInfo
	complete bool
}

// changesWanted is how many of each overlay's changes a batch collects: the
// introducing commit is almost always the newest change, and an overlay
// that needs more is searched on its own.
const changesWanted = 8

// readRecent walks the deploy branch once for a batch: it indexes ensign's
// reverts of failures among the newest s.history commits and keeps, for
// each overlay of paths, its newest changesWanted changes (looking at most
// maxExamined commits back).
func (s *Service) readRecent(ctx context.Context, paths []string) (*recent, error) {
	idx := &recent{byID: map[string]*gitops.CommitInfo{}, overlays: map[string]*overlayChanges{}}
	for _, p := range paths {
		idx.overlays[p] = &overlayChanges{}
	}
	short := len(paths) // overlays with fewer than changesWanted changes so far
	n := 0
	err := s.ws.Git.LogPaths(ctx, s.ws.Branch, paths, maxExamined, func(c *gitops.CommitInfo, changed []int) error {
		if n++; n <= s.history {
			idx.index(c)
		}
		for _, i := range changed {
			oc := idx.overlays[paths[i]]
			if len(oc.commits) < changesWanted {
				if oc.commits = append(oc.commits, c); len(oc.commits) == changesWanted {
					short--
				}
			}
		}
		if n >= s.history && short == 0 {
			return gitops.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the recent history of %s: %w", s.ws.Branch, err)
	}
	for _, oc := range idx.overlays {
		// Fewer than wanted: the walk reached the end of what is searched.
		oc.complete = len(oc.commits) < changesWanted || changesWanted >= s.history
	}
	return idx, nil
}

// index notes c if it carries a failure's trailer.
func (r *recent) index(c *gitops.CommitInfo) {
	ids := gitops.TrailerValues(c.Message, vocab.TrailerFailure)
	if len(ids) > 0 {
		r.all = append(r.all, c)
	}
	for _, id := range ids {
		if _, ok := r.byID[id]; !ok {
			r.byID[id] = c
		}
	}
}

// failure returns ensign's revert of this very failure, or nil.
func (r *recent) failure(id string) *gitops.CommitInfo { return r.byID[id] }

// canary returns ensign's revert of the failing images of this canary (any
// failure id of it), or nil: the real Flagger rewrites a Failed canary's
// lastTransitionTime at every interval, so a retry or a restart after the
// push sees another failure id for the same failure. Only used once the
// branch no longer pins the failing images, so a later failure of the same
// version is never mistaken for this one.
func (r *recent) canary(f failure, failing []imageref.Ref) *gitops.CommitInfo {
	prefix := f.canaryKey() + "@"
	for _, c := range r.all {
		ours := false
		for _, v := range gitops.TrailerValues(c.Message, vocab.TrailerFailure) {
			ours = ours || strings.HasPrefix(v, prefix)
		}
		if !ours {
			continue
		}
		images := gitops.TrailerValues(c.Message, vocab.TrailerImage)
		all := true
		for _, r := range failing {
			all = all && slices.Contains(images, r.String())
		}
		if all {
			return c
		}
	}
	return nil
}

// ErrNoIntroducer means the commit that brought the failing version into
// the overlay is not within the searched history.
var ErrNoIntroducer = errors.New("commit that introduced the failing version not found")

// introducedBy finds the newest first-parent commit that made the overlay
// pin one of the failing images its first parent did not pin. known, if
// not nil, are the overlay's newest changes a batch already read; the
// history is searched again only when they do not settle it.
func (s *Service) introducedBy(ctx context.Context, stage *policy.Stage, failing []imageref.Ref, known *overlayChanges) (*gitops.CommitInfo, error) {
	if known != nil {
		c, err := s.introducer(ctx, stage, failing, known.commits, known.complete)
		if !errors.Is(err, errNeedMore) {
			return c, err
		}
	}
	// Collect the candidates first: reading trees of parents may need
	// history a shallow cache lacks, which cannot be fetched inside a walk.
	// The bound counts commits that change the overlay: in a repository of
	// many apps, the change may be hundreds of commits behind the tip.
	var candidates []*gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: maxExamined}, func(c *gitops.CommitInfo) error {
		if candidates = append(candidates, c); len(candidates) == s.history {
			return gitops.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the commit that introduced the failing version: %w", err)
	}
	return s.introducer(ctx, stage, failing, candidates, true)
}

// errNeedMore: the candidates given did not settle which commit introduced
// the version, and there are older ones.
var errNeedMore = errors.New("need older changes of the overlay")

// introducer looks through candidates (the overlay's changes, newest
// first) for the one that introduced a failing image; complete says they
// are all the search may look at (else errNeedMore when they run out).
func (s *Service) introducer(ctx context.Context, stage *policy.Stage, failing []imageref.Ref, candidates []*gitops.CommitInfo, complete bool) (*gitops.CommitInfo, error) {
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
	if !complete {
		return nil, errNeedMore
	}
	if len(pending) > 0 {
		refs := slices.Sorted(maps.Keys(pending))
		return nil, &UnreadableError{Commit: across, Overlay: stage.Overlay, Image: refs[0]}
	}
	return nil, fmt.Errorf("%w in the last %d commits changing %s (or the last %d commits)", ErrNoIntroducer, s.history, stage.Overlay, maxExamined)
}

// maxExamined bounds the commits a search for the commit that introduced a
// version reads, whatever they change.
const maxExamined = 10000

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
