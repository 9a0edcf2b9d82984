package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
)

// MergeQueued merges the queued promotions whose stage windows are open at
// now and that are not held. The scheduler calls it when a window opens.
func (s *Service) MergeQueued(ctx context.Context, now time.Time) error {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return err
	}
	if snap.Policy == nil {
		return nil
	}
	pol := snap.Policy
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, pol.Labels.Queued)
	if err != nil {
		return err
	}
	var errs []error
	for _, pr := range prs {
		m, err := s.promotionOf(pr)
		if err != nil {
			continue // not ensign's promotion
		}
		app := pol.App(m.App)
		if app == nil || app.Stage(m.To) == nil {
			s.log.Warn("queued promotion names a stage the policy no longer has", "pr", pr.Number, "app", m.App, "to", m.To)
			continue
		}
		out := Outcome{App: m.App, From: m.From, To: m.To, ID: m.ID, PR: pr.Number, URL: pr.URL}
		out, err = s.settle(ctx, pol, app, app.Stage(m.To), pr, m, Facts{Trigger: Automatic, Queued: true}, "", now, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("merge queued promotion #%d: %w", pr.Number, err))
			continue
		}
		s.log.Info("queued promotion", "pr", pr.Number, "action", out.Action, "reason", out.Reason)
	}
	return errors.Join(errs...)
}

// Promote runs /promote and /promote now on a promotion pull request.
func (s *Service) Promote(ctx context.Context, req command.Request) (string, error) {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return "", err
	}
	if snap.Policy == nil {
		return "This repository has no " + s.ws.PolicyFile + "; ensign manages no promotions here.", nil
	}
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, req.PR)
	if err != nil {
		return "", err
	}
	m, err := s.promotionOf(pr)
	if err != nil {
		return "This pull request is not a promotion opened by ensign, so there is nothing to promote. `ensign promote --app APP --to STAGE` starts one.", nil
	}
	if pr.Merged {
		return fmt.Sprintf("This promotion is already merged (%s).", short(pr.MergeCommitSHA)), nil
	}
	if !pr.Open() {
		return "This promotion is closed; ensign does not reopen it.", nil
	}
	app := snap.Policy.App(m.App)
	if app == nil || app.Stage(m.To) == nil {
		return fmt.Sprintf("The policy has no stage %s/%s any more; close this pull request.", m.App, m.To), nil
	}
	trig := Person
	if req.Now {
		trig = PersonNow
	}
	out := Outcome{App: m.App, From: m.From, To: m.To, ID: m.ID, PR: pr.Number, URL: pr.URL}
	out, err = s.settle(ctx, snap.Policy, app, app.Stage(m.To), pr, m, Facts{Trigger: trig}, req.Commenter, s.now(), out)
	if err != nil {
		return "", err
	}
	return Reply(out), nil
}

// Reply renders an outcome as a short answer in a pull request.
func Reply(out Outcome) string {
	switch out.Action {
	case "merged":
		return fmt.Sprintf("Merged the promotion of %s into %s: %s.", out.App, out.To, out.Reason)
	case "queued":
		if out.Until.IsZero() {
			return fmt.Sprintf("Queued: %s.", out.Reason)
		}
		return fmt.Sprintf("Queued: %s. ensign merges it when the next window opens, %s.", out.Reason, out.Until.Format(time.RFC3339))
	case "waiting":
		return fmt.Sprintf("Not merged: %s.", out.Reason)
	}
	return fmt.Sprintf("%s: %s", out.Action, out.Reason)
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
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return out, err
	}
	if snap.Policy == nil {
		return out, fmt.Errorf("%s has no %s", s.ws.Repo, s.ws.PolicyFile)
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

// Errors of PromoteStage a caller can act on.
var (
	ErrBadRequest  = errors.New("bad promotion request")
	ErrNotVerified = errors.New("no verified version")
)

// promotionOf returns the metadata of ensign's own promotion pull request.
func (s *Service) promotionOf(pr forge.PullRequest) (Meta, error) {
	if pr.Author != s.bot {
		return Meta{}, ErrNoMarker
	}
	return ParseMarker(pr.Body)
}

func appNames(p *policy.Policy) string {
	names := make([]string, len(p.Apps))
	for i, a := range p.Apps {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
