package freeze

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// change rewrites the policy's freezes on the deploy branch to what plan
// returns for the policy at the tip (plan may run again if the branch
// moves), in a commit as ensign with message() (called after plan). plan
// must not change the policy it is given. plan's errors (errNothing,
// ErrBadRequest) stop it. If the branch refuses the push, the change goes
// to a pull request (not for expire) and the outcome is ActionProposed.
func (s *Service) change(ctx context.Context, req Request, verb string, plan func(*policy.Policy) ([]policy.Freeze, error), message func() string) (Outcome, error) {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case snap.Invalid != nil:
		return Outcome{}, fmt.Errorf("%w: the policy on %s does not load; fix it first: %w", ErrBadRequest, s.ws.Branch, snap.Invalid)
	case snap.Policy == nil:
		return Outcome{}, fmt.Errorf("%w: %s has no policy file %s", ErrBadRequest, s.ws.Branch, s.ws.PolicyFile)
	}
	// Plan on the policy already read first: errNothing and bad requests
	// end here, and message() sees what the plan decided.
	if _, err := plan(snap.Policy); err != nil {
		return Outcome{}, err
	}
	id := snap.Policy.Identity
	edit := func(t *gitops.TreeEditor) error {
		data, err := t.ReadFile(s.ws.PolicyFile)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.ws.PolicyFile, err)
		}
		pol, err := policy.Load(s.ws.PolicyFile, data)
		if err != nil {
			return fmt.Errorf("%w: the policy does not load; fix it first: %w", ErrBadRequest, err)
		}
		fs, err := plan(pol)
		if err != nil {
			return err
		}
		edited, err := policy.SetFreezes(s.ws.PolicyFile, data, fs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		return t.WriteFile(s.ws.PolicyFile, edited)
	}
	msg := message()
	meta := gitops.CommitMeta{
		Message: msg,
		Trailers: []gitops.Trailer{
			{Key: vocab.TrailerFreeze, Value: verb + " " + strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0])},
		},
		Author: gitops.Identity{Name: id.Name, Email: id.Email},
	}
	if req.By != "" {
		meta.Trailers = append(meta.Trailers, gitops.Trailer{Key: vocab.TrailerRequestedBy, Value: req.By})
	}
	res, err := s.ws.Git.Update(ctx, gitops.Target{Branch: s.ws.Branch}, meta, edit)
	var rejected *gitops.PushRejectedError
	switch {
	case err == nil:
		s.log.Info("freezes changed", "verb", verb, "commit", res.Commit.String(), "by", req.By)
		return Outcome{Commit: res.Commit.String()}, nil
	case errors.As(err, &rejected) && !rejected.Stale && verb != "expire":
	default:
		return Outcome{}, err
	}
	// The branch is protected against ensign: a person merges the change.
	branch := snap.Policy.BranchPrefix + "freeze/" + req.Stage
	res, err = s.ws.Git.Update(ctx, gitops.Target{Branch: branch, Base: s.ws.Branch, Mode: gitops.ForceBranch}, meta, edit)
	if err != nil {
		return Outcome{}, fmt.Errorf("%s refused ensign's push (%s); open a pull request from %s: %w", s.ws.Branch, rejected.Reason, branch, err)
	}
	title, body, _ := strings.Cut(msg, "\n")
	pr, _, err := s.forge.EnsurePullRequest(ctx, s.ws.Repo, forge.NewPullRequest{
		Head: branch, Base: s.ws.Branch, Title: title,
		Body: strings.TrimSpace(body) + fmt.Sprintf("\n\n%s refused ensign's push (%s), so this %s waits for a person to merge it.", s.ws.Branch, rejected.Reason, verb),
	})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: ActionProposed, Commit: res.Commit.String(), PR: pr.Number, URL: pr.URL,
		Reason: fmt.Sprintf("%s refused ensign's push (%s); merge #%d to %s", s.ws.Branch, rejected.Reason, pr.Number, verb)}, nil
}
