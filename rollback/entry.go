package rollback

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// Request is a rollback a person or pipeline asks for.
type Request struct {
	App, Stage string
	// Commit to revert, full or abbreviated; empty means the newest commit
	// that changed the stage's overlay and is not itself a revert.
	Commit string
	// Person who asks, for the commit trailers; "" means the pipeline.
	Person string
}

// Errors of the rollback requests a caller can act on.
var (
	// ErrBadRequest: the app, stage or commit id asked for is not valid.
	ErrBadRequest = errors.New("bad rollback request")
	// ErrNotFound: no such commit on the deploy branch.
	ErrNotFound = errors.New("no such commit")
	// ErrNoPolicy: the repository has no policy file; ensign manages no
	// rollbacks there.
	ErrNoPolicy = errors.New("no policy file")
)

// RollbackStage reverts a commit of a stage as a person's request (the CLI).
// A person may revert a revert; the policy's mode and deny windows apply.
func (s *Service) RollbackStage(ctx context.Context, req Request) (Outcome, error) {
	out := Outcome{App: req.App, Stage: req.Stage}
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return out, err
	}
	if snap.Policy == nil {
		if snap.Invalid != nil {
			return out, snap.Invalid
		}
		return out, fmt.Errorf("%w: %s has no %s", ErrNoPolicy, s.ws.Repo, s.ws.PolicyFile)
	}
	app := snap.Policy.App(req.App)
	if app == nil {
		return out, fmt.Errorf("%w: no app %q in the policy", ErrBadRequest, req.App)
	}
	stage := app.Stage(req.Stage)
	if stage == nil {
		return out, fmt.Errorf("%w: app %s has no stage %q", ErrBadRequest, req.App, req.Stage)
	}
	var intro *gitops.CommitInfo
	if req.Commit != "" {
		intro, err = s.resolve(ctx, req.Commit)
	} else {
		intro, err = s.lastChange(ctx, stage)
	}
	if err != nil {
		return out, err
	}
	d := Land(snap.Policy.Rollback.Mode, snap.Policy.RollbackState(stage, s.now()))
	out, err = s.requested(ctx, snap.Policy, app, stage, intro, req.Person, d, out)
	if snap.Invalid != nil {
		out.StalePolicy = fmt.Sprintf("the policy at %s does not load; followed the last valid one (%s)", short(snap.Tip.String()), short(snap.PolicyCommit.String()))
	}
	return out, err
}

// PRRequest is a person's /rollback [sha] on a pull request.
type PRRequest struct {
	// PR is the pull request the command was written on.
	PR int64
	// SHA is the commit to revert, full or abbreviated; empty means the
	// pull request's own merge.
	SHA string
	// Person is who asks, for the commit trailers.
	Person string
}

// RollbackPR runs /rollback [sha] on a merged promotion pull request. It
// reverts only commits of the deploy branch that change the promotion's
// stage overlay and nothing else, and always as a revert pull request: a
// person's rollback is reviewed like their own change, so ensign's push
// rights never stand in for theirs. A request it will not act on is an
// outcome that says why, not an error.
func (s *Service) RollbackPR(ctx context.Context, req PRRequest) (Outcome, error) {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return Outcome{}, err
	}
	if snap.Policy == nil {
		if snap.Invalid != nil {
			return Outcome{}, snap.Invalid
		}
		return Outcome{}, ErrNoPolicy
	}
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, req.PR)
	if err != nil {
		return Outcome{}, err
	}
	if !pr.Merged {
		return Outcome{Action: ActionNotMerged}, nil
	}
	merged, err := s.resolve(ctx, pr.MergeCommitSHA)
	if err != nil {
		return Outcome{}, err
	}
	appName, stageName, ok := s.promotionTarget(merged)
	if !ok {
		return Outcome{Action: ActionNotPromotion, Reverted: merged.Hash.String()}, nil
	}
	out := Outcome{App: appName, Stage: stageName}
	app := snap.Policy.App(appName)
	if app == nil || app.Stage(stageName) == nil {
		out.Action = ActionStageGone
		return out, nil
	}
	intro := merged
	if req.SHA != "" {
		intro, err = s.resolve(ctx, req.SHA)
		if errors.Is(err, ErrNotFound) {
			out.Action, out.Reverted = ActionNoSuchCommit, req.SHA
			out.Reason = fmt.Sprintf("there is no commit %s on %s within the last %d commits", req.SHA, s.ws.Branch, s.history)
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	stage := app.Stage(stageName)
	only, err := s.changesOnly(ctx, intro, stage.Overlay)
	if err != nil {
		return out, err
	}
	if !only {
		out.Action, out.Reverted = ActionOutsideOverlay, intro.Hash.String()
		out.Reason = fmt.Sprintf("%s changes files outside %s (or nothing in it)", short(intro.Hash.String()), stage.Overlay)
		return out, nil
	}
	out, err = s.requested(ctx, snap.Policy, app, stage, intro, req.Person, Decision{Verdict: OpenRevertPR}, out)
	if snap.Invalid != nil {
		out.StalePolicy = fmt.Sprintf("the policy at %s does not load; followed the last valid one (%s)", short(snap.Tip.String()), short(snap.PolicyCommit.String()))
	}
	return out, err
}

// requested reverts intro for a person, unless it is already reverted.
func (s *Service) requested(ctx context.Context, pol *policy.Policy, app *policy.App, stage *policy.Stage, intro *gitops.CommitInfo, person string, d Decision, out Outcome) (Outcome, error) {
	out.Reverted = intro.Hash.String()
	prior, err := s.ws.Git.FindRevert(ctx, s.ws.Branch, intro.Hash, s.history, vocab.Reverted)
	if err != nil {
		return out, fmt.Errorf("look for an earlier revert of %s: %w", short(out.Reverted), err)
	}
	if prior != nil {
		out.Action, out.Commit = ActionAlreadyReverted, prior.Hash.String()
		out.Reason = fmt.Sprintf("%s is already reverted by %s", short(out.Reverted), short(prior.Hash.String()))
		return out, nil
	}
	who := person
	if who == "" {
		who = "pipeline"
	}
	trailers := []gitops.Trailer{
		{Key: vocab.TrailerRollback, Value: app.Name + "/" + stage.Name},
		{Key: vocab.TrailerRequestedBy, Value: who},
	}
	out, err = s.revert(ctx, pol, app, stage, intro, trailers, s.now().UTC().Truncate(time.Second), "request/"+intro.Hash.String(), d, out)
	if err != nil {
		return out, err
	}
	if out.Action == ActionReverted {
		_ = s.reconcile(ctx, stage, &out) // the reason says so; a person asked and reads it
	}
	if out.Action == ActionReverted || out.Action == ActionRevertPR || out.Action == ActionConflict {
		if err := s.commentOriginal(ctx, intro, &out, failure{}, false); err != nil {
			out.Reason += "; could not comment on the original pull request: " + err.Error()
		}
	}
	return out, nil
}

// resolve finds a commit on the deploy branch by full or abbreviated id.
func (s *Service) resolve(ctx context.Context, sha string) (*gitops.CommitInfo, error) {
	sha = strings.ToLower(strings.TrimSpace(sha))
	if len(sha) < 7 || len(sha) > 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: %q is not a commit id (7 to 40 hex digits)", ErrBadRequest, sha)
	}
	// Only commits of the deploy branch's history count: the cache also
	// holds commits of unmerged branches.
	var found *gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Max: s.history}, func(c *gitops.CommitInfo) error {
		if strings.HasPrefix(c.Hash.String(), sha) {
			found = c
			return gitops.ErrStopWalk
		}
		for _, p := range c.Parents[min(1, len(c.Parents)):] { // merged branch heads
			if strings.HasPrefix(p.String(), sha) {
				if pc, err := s.ws.Git.Commit(p); err == nil {
					found = pc
					return gitops.ErrStopWalk
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s on %s", ErrNotFound, sha, s.ws.Branch)
	}
	return found, nil
}

// changesOnly reports whether c (against its first parent) changes the
// overlay dir and nothing outside it.
func (s *Service) changesOnly(ctx context.Context, c *gitops.CommitInfo, dir string) (bool, error) {
	if len(c.Parents) == 0 {
		return false, nil
	}
	parent := c.Parents[0]
	if err := s.ws.Git.FetchCommit(ctx, parent, 1); err != nil {
		return false, fmt.Errorf("fetch %s: %w", short(parent.String()), err)
	}
	pc, err := s.ws.Git.Commit(parent)
	if err != nil {
		return false, err
	}
	if pc.Tree == c.Tree {
		return false, nil
	}
	// c's tree with the overlay as the parent had it must be the parent's tree.
	ed, err := s.ws.Git.Snapshot(c.Hash)
	if err != nil {
		return false, err
	}
	prev, err := s.ws.Git.Snapshot(parent)
	if err != nil {
		return false, err
	}
	cur, err := ed.List(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, f := range cur {
		if err := ed.Remove(path.Join(dir, f)); err != nil {
			return false, err
		}
	}
	old, err := prev.List(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, f := range old {
		f = path.Join(dir, f)
		data, err := prev.ReadFile(f)
		if err != nil {
			return false, err
		}
		mode, err := prev.Stat(f)
		if err != nil {
			return false, err
		}
		if err := ed.WriteFileMode(f, data, mode); err != nil {
			return false, err
		}
	}
	h, err := ed.Write()
	if err != nil {
		return false, err
	}
	return h == pc.Tree, nil
}

// lastChange returns the newest commit that changed the stage's overlay and
// is not a revert.
func (s *Service) lastChange(ctx context.Context, stage *policy.Stage) (*gitops.CommitInfo, error) {
	var found *gitops.CommitInfo
	err := s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Path: stage.Overlay, Max: s.history}, func(c *gitops.CommitInfo) error {
		if !vocab.IsRevert(c.Message) {
			found = c
			return gitops.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no commit changed %s in the last %d commits", ErrNotFound, stage.Overlay, s.history)
	}
	return found, nil
}

// promotionTarget reads app/stage from a promotion's Ensign-Promotion
// trailer: on the merge commit ensign writes, or on the merged head commit
// when a person merged it.
func (s *Service) promotionTarget(c *gitops.CommitInfo) (app, stage string, ok bool) {
	candidates := []*gitops.CommitInfo{c}
	if len(c.Parents) > 1 {
		if head, err := s.ws.Git.Commit(c.Parents[1]); err == nil {
			candidates = append(candidates, head)
		}
	}
	for _, cc := range candidates {
		for _, v := range gitops.TrailerValues(cc.Message, vocab.TrailerPromotion) {
			if a, st, ok := strings.Cut(v, "/"); ok && a != "" && st != "" {
				return a, st, true
			}
		}
	}
	return "", "", false
}
