package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/workspace"
)

// MergeQueued merges the queued promotions whose stage windows are open at
// now and that are not held. The scheduler calls it when a window opens.
// Each pull request is settled under its app's promotion lock, on the
// branch and the pull request as they are then.
func (s *Service) MergeQueued(ctx context.Context, now time.Time) error {
	snap, err := s.ws.Sync(ctx)
	if err != nil {
		return err
	}
	if snap.Invalid != nil {
		s.logger(ctx).Warn("not merging queued promotions: the policy on the deploy branch does not load", "err", snap.Invalid)
		return nil
	}
	if snap.Policy == nil {
		return nil
	}
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, snap.Policy.Labels.Queued)
	if err != nil {
		return err
	}
	var errs []error
	for _, pr := range prs {
		m, err := s.promotionOf(pr)
		if err != nil {
			continue // not ensign's promotion
		}
		if err := s.mergeQueued(ctx, pr.Number, m.App, now); err != nil {
			errs = append(errs, fmt.Errorf("merge queued promotion #%d: %w", pr.Number, err))
		}
	}
	return errors.Join(errs...)
}

// mergeQueued settles one queued promotion pull request of app.
func (s *Service) mergeQueued(ctx context.Context, number int64, app string, now time.Time) error {
	snap, done, err := s.ws.BeginPromotion(ctx, app)
	defer done()
	if err != nil {
		return err
	}
	if err := usable(snap); err != nil {
		return err
	}
	pol := snap.Policy
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, number) // another promotion may have closed it meanwhile
	if err != nil {
		return err
	}
	m, err := s.promotionOf(pr)
	if err != nil || !pr.Open() || !pr.HasLabel(pol.Labels.Queued) {
		return nil
	}
	a := pol.App(m.App)
	if a == nil || a.Stage(m.To) == nil {
		s.logger(ctx).Warn("queued promotion names a stage the policy no longer has", "pr", pr.Number, "app", m.App, "to", m.To)
		return nil
	}
	out := Outcome{App: m.App, From: m.From, To: m.To, ID: m.ID, Images: m.Images, PR: pr.Number, URL: pr.URL}
	out, err = s.settle(ctx, pol, a, a.Stage(m.To), pr, m, Facts{Trigger: Automatic, Queued: true}, "", now, out)
	if err != nil {
		return err
	}
	s.logger(ctx).Info("queued promotion", "pr", pr.Number, "action", out.Action, "reason", out.Reason)
	return nil
}

// PRRequest is a person's /promote or /promote now on a pull request.
type PRRequest struct {
	// PR is the pull request the command was written on.
	PR int64
	// Person is who asks, for the merge commit and the status comment.
	Person string
	// Now merges even when the stage's window is closed (/promote now).
	Now bool
}

// PromotePR runs /promote and /promote now on a promotion pull request. A
// pull request that is not ensign's open promotion, or whose stage the
// policy lost, is an outcome that says so, not an error.
func (s *Service) PromotePR(ctx context.Context, req PRRequest) (Outcome, error) {
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, req.PR)
	if err != nil {
		return Outcome{}, err
	}
	m, err := s.promotionOf(pr)
	if err != nil {
		return Outcome{PR: pr.Number, URL: pr.URL, Action: ActionNotPromotion}, nil
	}
	snap, done, err := s.ws.BeginPromotion(ctx, m.App)
	defer done()
	if err != nil {
		return Outcome{}, err
	}
	if err := usable(snap); err != nil {
		return Outcome{}, err
	}
	// Read it again: another promotion of the app may have closed or
	// replaced it while this one waited for the app's lock.
	if pr, err = s.forge.GetPullRequest(ctx, s.ws.Repo, req.PR); err != nil {
		return Outcome{}, err
	}
	if m, err = s.promotionOf(pr); err != nil {
		return Outcome{PR: pr.Number, URL: pr.URL, Action: ActionNotPromotion}, nil
	}
	out := Outcome{App: m.App, From: m.From, To: m.To, ID: m.ID, Images: m.Images, PR: pr.Number, URL: pr.URL}
	switch {
	case pr.Merged:
		out.Action, out.Commit = ActionAlreadyMerged, pr.MergeCommitSHA
		return out, nil
	case !pr.Open():
		out.Action = ActionClosed
		return out, nil
	}
	app := snap.Policy.App(m.App)
	if app == nil || app.Stage(m.To) == nil {
		out.Action = ActionStageGone
		return out, nil
	}
	trig := Person
	if req.Now {
		trig = PersonNow
	}
	return s.settle(ctx, snap.Policy, app, app.Stage(m.To), pr, m, Facts{Trigger: trig}, req.Person, s.now(), out)
}

// usable returns the error that stops promotions in a repository: its
// policy file does not load. Promotions never go ahead under an older
// policy than the one on the deploy branch (rollbacks do).
func usable(snap workspace.Snapshot) error {
	if snap.Invalid != nil {
		return snap.Invalid
	}
	if snap.Policy == nil {
		return ErrNoPolicy
	}
	return nil
}

// Request is a promotion asked for outside a pull request (the CLI).
type Request struct {
	App, To string
	// Person is who asks, for the commit trailers; "" means the pipeline.
	Person string
	// Now merges even when the window is closed.
	Now bool
}

// PromoteStage promotes into stage req.To the version its source stage's
// canary verified, as a person's request: the merge follows the windows
// (unless Now), and a version rolled back before is promoted anyway.
func (s *Service) PromoteStage(ctx context.Context, req Request) (Outcome, error) {
	out := Outcome{App: req.App, To: req.To}
	snap, done, err := s.ws.BeginPromotion(ctx, req.App)
	defer done()
	if err != nil {
		return out, err
	}
	if err := usable(snap); err != nil {
		return out, err
	}
	app := snap.Policy.App(req.App)
	if app == nil {
		return out, fmt.Errorf("%w: no app %q in the policy (apps: %s)", ErrBadRequest, req.App, appNames(snap.Policy))
	}
	to := app.Stage(req.To)
	if to == nil {
		return out, fmt.Errorf("%w: app %s has no stage %q", ErrBadRequest, req.App, req.To)
	}
	from := app.Source(to.Name)
	if from == nil {
		return out, fmt.Errorf("%w: stage %s of %s is the first stage; its versions come from CI, not from a promotion", ErrBadRequest, to.Name, app.Name)
	}
	c, err := s.clusters.Canary(ctx, from.Canary)
	if err != nil {
		return out, err
	}
	if c.Status.Phase != "Succeeded" {
		return out, fmt.Errorf("%w: canary %s of stage %s is %s, not Succeeded: there is no verified version to promote", ErrNotVerified, from.Canary, from.Name, orUnknown(string(c.Status.Phase)))
	}
	v, err := s.verify(ctx, from.Canary.Cluster, c, from)
	if err != nil {
		return out, err
	}
	trig := Person
	if req.Now {
		trig = PersonNow
	}
	out, err = s.promote(ctx, snap, app, from, to, v, trig, req.Person)
	if err == nil {
		s.note(ctx, from.Canary.Cluster, c, out)
	}
	return out, err
}

// PullRequest returns a promotion pull request's current state, for `--wait`.
func (s *Service) PullRequest(ctx context.Context, number int64) (forge.PullRequest, error) {
	return s.forge.GetPullRequest(ctx, s.ws.Repo, number)
}

// Errors of the promotion requests a caller can act on.
var (
	// ErrBadRequest: the app or stage asked for does not exist or cannot
	// be promoted into.
	ErrBadRequest = errors.New("bad promotion request")
	// ErrNotVerified: the source stage's canary has not Succeeded.
	ErrNotVerified = errors.New("no verified version")
	// ErrNoPolicy: the repository has no policy file; ensign manages no
	// promotions there.
	ErrNoPolicy = errors.New("no policy file")
)

// promotionOf returns the metadata of ensign's own promotion pull request.
func (s *Service) promotionOf(pr forge.PullRequest) (vocab.Promotion, error) {
	if pr.Author != s.bot {
		return vocab.Promotion{}, vocab.ErrNoPromotion
	}
	return vocab.ParsePromotion(pr.Body)
}

func appNames(p *policy.Policy) string {
	names := make([]string, len(p.Apps))
	for i, a := range p.Apps {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
