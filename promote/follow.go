package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/vocab"
)

// Milestone is how far a promotion got after it was merged or pushed, as
// Follow reports it.
type Milestone string

// The milestones Follow reports, in order.
const (
	// MilestoneMerged: the promotion is on the deploy branch.
	MilestoneMerged Milestone = "merged"
	// MilestoneApplied: the target stage's Flux Kustomization applied it.
	MilestoneApplied Milestone = "applied"
	// MilestoneSucceeded: the target stage's canary Succeeded on the version.
	MilestoneSucceeded Milestone = "succeeded"
	// MilestoneFailed: the target stage's canary Failed on the version.
	MilestoneFailed Milestone = "failed"
	// MilestoneRolledBack: after the failure, the version was reverted in Git
	// (pushed, or a revert pull request opened).
	MilestoneRolledBack Milestone = "rolled-back"
)

// Progress is one step of a promotion's way into its stage.
type Progress struct {
	Step Milestone `json:"step"`
	At   time.Time `json:"at"`
	// Commit is the promotion's commit on the deploy branch (merged), the
	// revision Flux applied (applied), or the revert (rolled-back).
	Commit string `json:"commit,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// ErrRolledBack means the promoted version failed its analysis in the target
// stage and was rolled back.
var ErrRolledBack = errors.New("the promoted version failed and was rolled back")

// Follow follows a promotion that landed (out.Commit on the deploy branch)
// into its stage: until Flux applied it, then until the stage's canary
// Succeeded (nil) or Failed and the version was rolled back (ErrRolledBack),
// calling report at each step. It polls every interval and honours ctx.
func (s *Service) Follow(ctx context.Context, out Outcome, interval time.Duration, report func(Progress)) error {
	snap, err := s.ws.Sync(ctx)
	if err != nil {
		return err
	}
	if err := usable(snap); err != nil {
		return err
	}
	app := snap.Policy.App(out.App)
	if app == nil || app.Stage(out.To) == nil {
		return fmt.Errorf("%w: no stage %s/%s in the policy", ErrBadRequest, out.App, out.To)
	}
	to := app.Stage(out.To)
	landed := plumbing.NewHash(out.Commit)
	report(Progress{Step: MilestoneMerged, At: s.now(), Commit: out.Commit})
	var applied string
	if err := poll(ctx, interval, func() (bool, error) {
		commit, k, err := s.clusters.AppliedRevision(ctx, to)
		if err != nil || commit == "" {
			return false, err
		}
		ok, err := s.contains(ctx, plumbing.NewHash(commit), landed)
		if ok {
			applied = commit
			report(Progress{Step: MilestoneApplied, At: s.now(), Commit: commit, Detail: k})
		}
		return ok, err
	}); err != nil {
		return fmt.Errorf("wait for Flux to apply %s to %s: %w", short(out.Commit), to.Name, err)
	}
	var final *flaggerv1.Canary
	if err := poll(ctx, interval, func() (bool, error) {
		c, err := s.clusters.Canary(ctx, to.Canary)
		if err != nil {
			return false, err
		}
		switch c.Status.Phase {
		case flaggerv1.CanaryPhaseSucceeded:
			// Only a success on the promoted version counts: the primary
			// runs it.
			ok, err := s.runs(ctx, s.clusters.PrimaryImages, to.Canary.Cluster, c, out)
			if ok {
				final = c
			}
			return ok, err
		case flaggerv1.CanaryPhaseFailed:
			// Only a failure of the promoted version counts: the target
			// runs it (and the primary does not).
			ok, err := s.runs(ctx, s.clusters.TargetImages, to.Canary.Cluster, c, out)
			if ok {
				final = c
			}
			return ok, err
		}
		return false, nil
	}); err != nil {
		return fmt.Errorf("wait for the canary %s after %s: %w", to.Canary, short(applied), err)
	}
	if final.Status.Phase == flaggerv1.CanaryPhaseSucceeded {
		report(Progress{Step: MilestoneSucceeded, At: final.Status.LastTransitionTime.Time, Detail: fmt.Sprintf("canary %s", to.Canary)})
		return nil
	}
	detail := fmt.Sprintf("canary %s", to.Canary)
	if n := final.Status.FailedChecks; n > 0 { // the real Flagger resets it to 0 once Failed
		detail += fmt.Sprintf(", %d failed checks", n)
	}
	report(Progress{Step: MilestoneFailed, At: final.Status.LastTransitionTime.Time, Detail: detail})
	return poll(ctx, interval, func() (bool, error) {
		if _, err := s.ws.Sync(ctx); err != nil {
			return false, err
		}
		revert, err := s.ws.Git.FindRevert(ctx, s.ws.Branch, landed, historyToCheck, vocab.Reverted)
		if err != nil {
			return false, err
		}
		if revert != nil {
			report(Progress{Step: MilestoneRolledBack, At: revert.Committer.When, Commit: revert.Hash.String(), Detail: firstLine(revert.Message)})
			return true, ErrRolledBack
		}
		prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, snap.Policy.Labels.Rollback)
		if err != nil {
			return false, err
		}
		for _, pr := range prs {
			if pr.Author == s.bot && strings.Contains(pr.Body, landed.String()) {
				report(Progress{Step: MilestoneRolledBack, At: s.now(), Commit: pr.HeadSHA, Detail: fmt.Sprintf("revert pull request #%d %s", pr.Number, pr.URL)})
				return true, ErrRolledBack
			}
		}
		return false, nil
	})
}

// contains reports whether commit is landed or a later commit of the
// deploy branch (so Flux applying it applied landed too).
func (s *Service) contains(ctx context.Context, commit, landed plumbing.Hash) (bool, error) {
	if commit == landed {
		return true, nil
	}
	if _, err := s.ws.Sync(ctx); err != nil {
		return false, err
	}
	seenCommit, found := false, false
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Max: historyToCheck}, func(c *gitops.CommitInfo) error {
		switch c.Hash {
		case commit:
			seenCommit = true // newest first: commit is at or after landed if seen first
		case landed:
			found = true
			return gitops.ErrStopWalk
		}
		return nil
	})
	return found && seenCommit, err
}

// runs reports whether a workload of the canary (images reads it) runs
// every image out promoted.
func (s *Service) runs(ctx context.Context, images func(context.Context, string, *flaggerv1.Canary) ([]cluster.Container, error), clusterName string, c *flaggerv1.Canary, out Outcome) (bool, error) {
	cs, err := images(ctx, clusterName, c)
	if err != nil {
		return false, err
	}
	var running []string
	for _, ct := range cs {
		running = append(running, ct.Image)
	}
	for _, im := range out.Images {
		if !slices.Contains(running, im) {
			return false, nil
		}
	}
	return len(out.Images) > 0, nil
}

// poll calls cond every interval until it is done, returns an error, or ctx
// ends.
func poll(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		done, err := cond()
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
