package promote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// settle decides what happens to an open promotion pull request and does it.
func (s *Service) settle(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion, f Facts, person string, now time.Time, out Outcome) (Outcome, error) {
	pr, replaced, err := s.ownHead(ctx, pol, app, to, pr, m)
	switch {
	case errors.Is(err, ErrAlteredPR):
		return s.refuse(ctx, pr, err, out)
	case err != nil:
		return out, err
	}
	out.Replaced = replaced
	d := s.decide(ctx, pol, to, pr, &f, now)
	if d.Step == Merge {
		// This promotion began from a snapshot of the deploy branch that
		// others may have overtaken since (a freeze, a new window, a
		// removed stage, a rollback's revert): merge only what the branch
		// as it is now agrees with.
		snap, err := s.ws.Sync(ctx)
		if err != nil {
			return out, err
		}
		if err := usable(snap); err != nil {
			return out, err
		}
		if snap.Policy != pol {
			a := snap.Policy.App(app.Name)
			if a == nil || a.Stage(to.Name) == nil || a.Stage(m.From) == nil {
				out.Action, out.Reason = ActionStageGone, fmt.Sprintf("the policy at %s no longer has stages %s and %s of %s", short(snap.Tip.String()), m.From, to.Name, app.Name)
				return out, nil
			}
			pol, app, to = snap.Policy, a, a.Stage(to.Name)
			d = s.decide(ctx, pol, to, pr, &f, now)
		}
		if d.Step == Merge {
			if pr, err = s.upToDate(ctx, pol, app, to, pr, m, snap.Tip); errors.Is(err, gitops.ErrNothingToCommit) {
				return s.closePromoted(ctx, pr, to, out)
			} else if err != nil {
				return out, err
			}
		}
	}
	out.Reason, out.Until = d.Reason, d.Until
	switch d.Step {
	case Merge:
		// The branch is kept: Gitea handles a deletion asynchronously and would close
		// a new pull request of a re-promotion that recreates the same branch.
		opt := forge.MergeOptions{Style: forge.MergeStyle(to.MergeStyle), HeadSHA: pr.HeadSHA}
		opt.Title = pr.Title + fmt.Sprintf(" (#%d)", pr.Number)
		var tr []gitops.Trailer
		tr = append(tr, gitops.Trailer{Key: vocab.TrailerPromotion, Value: out.App + "/" + out.To}, gitops.Trailer{Key: vocab.TrailerPromotionID, Value: out.ID})
		if person != "" {
			tr = append(tr, gitops.Trailer{Key: vocab.TrailerRequestedBy, Value: person})
		}
		if f.Trigger == PersonNow && !f.Window.Open {
			tr = append(tr, gitops.Trailer{Key: vocab.TrailerOverride, Value: person + " merged outside the promotion windows (" + f.Window.Reason + ")"})
		}
		opt.Message = gitops.AppendTrailers(fmt.Sprintf("Merge promotion #%d into %s.", pr.Number, to.Name), tr...)
		if err := s.ws.Yield(ctx); err != nil {
			return out, err
		}
		if err := s.forge.Merge(ctx, s.ws.Repo, pr.Number, opt); err != nil && !errors.Is(err, forge.ErrAlreadyMerged) {
			return out, err
		}
		out.Action = ActionMerged
		if merged, err := s.forge.GetPullRequest(ctx, s.ws.Repo, pr.Number); err == nil {
			out.Commit = merged.MergeCommitSHA
		}
		s.liftInCluster(ctx, to, out.Commit, &out)
		if _, err := s.forge.RemoveLabel(ctx, s.ws.Repo, pr.Number, pol.Labels.Queued); err != nil {
			s.logger(ctx).Warn("remove queued label after merge", "pr", pr.Number, "err", err)
		}
		text := "Merged: " + d.Reason + "."
		if f.Trigger == PersonNow && !f.Window.Open {
			text = fmt.Sprintf("Merged by request of @%s outside the promotion windows (%s).", person, f.Window.Reason)
		}
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
			s.logger(ctx).Warn("update status comment", "pr", pr.Number, "err", err)
		}
	case Queue:
		if _, err := s.forge.AddLabel(ctx, s.ws.Repo, pr.Number, forge.Label{Name: pol.Labels.Queued, Color: "#fbca04", Description: "Waiting for a promotion window"}); err != nil {
			return out, err
		}
		out.Action = ActionQueued
		text := "Queued: " + d.Reason + "."
		if !d.Until.IsZero() {
			text = fmt.Sprintf("Queued: %s. ensign merges it when the next window opens, %s.", d.Reason, d.Until.Format(time.RFC3339))
		}
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
			return out, err
		}
	default:
		out.Action = ActionWaiting
		if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", "Not merging automatically: "+d.Reason+"."); err != nil {
			return out, err
		}
	}
	return out, nil
}

// upToDate returns pr with a head that merges cleanly into tip: its own
// head, or, when the deploy branch changed a file the promotion writes
// since the head was built (behind), the promotion rebuilt on the tip.
// gitops.ErrNothingToCommit: the tip already runs the version.
func (s *Service) upToDate(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion, tip plumbing.Hash) (forge.PullRequest, error) {
	stale, err := s.behind(ctx, app, to, pr, m, tip)
	if err != nil || !stale {
		return pr, err
	}
	s.logger(ctx).Info("the deploy branch changed what the promotion writes since it was built; rebuilding it on the tip", "pr", pr.Number, "head", pr.HeadSHA, "tip", tip)
	return s.rebase(ctx, pol, app, to, pr, m)
}

// closePromoted closes a promotion pull request whose version the stage
// already runs.
func (s *Service) closePromoted(ctx context.Context, pr forge.PullRequest, to *policy.Stage, out Outcome) (Outcome, error) {
	out.Action, out.Reason = ActionAlreadyPromoted, to.Name+" already runs this version"
	if err := s.forge.ClosePullRequest(ctx, s.ws.Repo, pr.Number, alreadyRuns(to)); err != nil {
		return out, err
	}
	return out, nil
}

// alreadyRuns is the closing text of a promotion whose version stage to
// already runs.
func alreadyRuns(to *policy.Stage) string {
	return "Closed by ensign: " + to.Name + " already runs the version this promotion proposed."
}

// decide completes f with what the policy, the pull request and the
// cluster say now, and decides.
func (s *Service) decide(ctx context.Context, pol *policy.Policy, to *policy.Stage, pr forge.PullRequest, f *Facts, now time.Time) Decision {
	f.Window = pol.EvaluateStage(to, now)
	f.Held = pr.HasLabel(pol.Labels.Hold)
	f.Suspended = s.suspended(ctx, to)
	f.Queued = f.Queued || pr.HasLabel(pol.Labels.Queued)
	return Decide(*f)
}

// openPromotion is an open promotion pull request with its metadata.
type openPromotion struct {
	pr   forge.PullRequest
	meta vocab.Promotion
}

// openPromotions lists ensign's open promotion pull requests into app/to.
func (s *Service) openPromotions(ctx context.Context, pol *policy.Policy, app, to string) ([]openPromotion, error) {
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, pol.Labels.Promotion)
	if err != nil {
		return nil, err
	}
	var out []openPromotion
	for _, pr := range prs {
		if pr.Author != s.bot {
			continue
		}
		m, err := vocab.ParsePromotion(pr.Body)
		if err != nil || m.App != app || m.To != to {
			continue
		}
		out = append(out, openPromotion{pr, m})
	}
	return out, nil
}

// closeSuperseded closes the open promotions other than keep.
func (s *Service) closeSuperseded(ctx context.Context, open []openPromotion, keep string, text string) {
	for _, o := range open {
		if o.meta.ID == keep {
			continue
		}
		if err := s.forge.ClosePullRequest(ctx, s.ws.Repo, o.pr.Number, text); err != nil {
			s.logger(ctx).Warn("close superseded promotion", "pr", o.pr.Number, "err", err)
		}
	}
}

// rolledBack returns the commit that rolled back exactly these images from
// stage to, or "" if none did (within the recent history of its overlay).
func (s *Service) rolledBack(ctx context.Context, to *policy.Stage, images []string) (string, error) {
	if len(images) == 0 {
		return "", nil
	}
	var found string
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: to.Overlay, Max: 200}, func(c *gitops.CommitInfo) error {
		if len(gitops.TrailerValues(c.Message, vocab.TrailerRollback)) == 0 {
			return nil
		}
		reverted := map[string]bool{}
		for _, im := range gitops.TrailerValues(c.Message, vocab.TrailerImage) {
			reverted[im] = true
		}
		for _, im := range images {
			if !reverted[im] {
				return nil
			}
		}
		found = c.Hash.String()
		return gitops.ErrStopWalk
	})
	if err != nil {
		return "", fmt.Errorf("look for earlier rollbacks of %s: %w", to.Overlay, err)
	}
	return short(found), nil
}

// suspended names the suspended Flux Kustomizations of stage to. A cluster
// that cannot be read is taken as not suspended (the windows still hold),
// and logged.
func (s *Service) suspended(ctx context.Context, to *policy.Stage) []string {
	refs, err := s.clusters.Suspended(ctx, to)
	if err != nil {
		s.logger(ctx).Warn("cannot tell whether Flux is suspended", "stage", to.Name, "err", err)
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}
