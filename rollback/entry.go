package rollback

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
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

// Errors of RollbackStage and Rollback a caller can act on.
var (
	ErrBadRequest = errors.New("bad rollback request")
	ErrNotFound   = errors.New("no such commit")
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
		return out, fmt.Errorf("%w: %s has no %s", ErrBadRequest, s.ws.Repo, s.ws.PolicyFile)
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
	return s.requested(ctx, snap.Policy, app, stage, intro, req.Person, out)
}

// Rollback runs /rollback [sha] on a merged promotion pull request.
func (s *Service) Rollback(ctx context.Context, req command.Request) (string, error) {
	snap, done, err := s.ws.Begin(ctx, false)
	defer done()
	if err != nil {
		return "", err
	}
	if snap.Policy == nil {
		return "This repository has no " + s.ws.PolicyFile + "; ensign manages no rollbacks here.", nil
	}
	pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, req.PR)
	if err != nil {
		return "", err
	}
	if !pr.Merged {
		return "This pull request is not merged, so there is nothing to roll back; close it instead.", nil
	}
	merged, err := s.resolve(ctx, pr.MergeCommitSHA)
	if err != nil {
		return "", err
	}
	appName, stageName, ok := s.promotionTarget(merged)
	if !ok {
		return "`/rollback` works on ensign's promotion pull requests. For other changes use `ensign rollback --app APP --stage STAGE --commit SHA`.", nil
	}
	app := snap.Policy.App(appName)
	if app == nil || app.Stage(stageName) == nil {
		return fmt.Sprintf("The policy has no stage %s/%s any more.", appName, stageName), nil
	}
	intro := merged
	if req.SHA != "" {
		intro, err = s.resolve(ctx, req.SHA)
		if errors.Is(err, ErrNotFound) {
			return fmt.Sprintf("There is no commit %s on %s within the last %d commits.", req.SHA, s.ws.Branch, s.history), nil
		}
		if err != nil {
			return "", err
		}
	}
	stage := app.Stage(stageName)
	only, err := s.changesOnly(ctx, intro, stage.Overlay)
	if err != nil {
		return "", err
	}
	if !only {
		return fmt.Sprintf("Refused: %s changes files outside %s (or nothing in it). `/rollback` reverts only changes to the stage's overlay; revert other changes with a pull request of your own.", short(intro.Hash.String()), stage.Overlay), nil
	}
	// ensign's push rights never stand in for a person's: a person's
	// rollback is a revert pull request, reviewed like their own change.
	pol := *snap.Policy
	pol.Rollback.Mode = policy.ModePR
	out, err := s.requested(ctx, &pol, app, stage, intro, req.Commenter, Outcome{App: appName, Stage: stageName})
	if err != nil {
		return "", err
	}
	return replyText(out), nil
}

// requested reverts intro for a person, unless it is already reverted.
func (s *Service) requested(ctx context.Context, pol *policy.Policy, app *policy.App, stage *policy.Stage, intro *gitops.CommitInfo, person string, out Outcome) (Outcome, error) {
	out.Reverted = intro.Hash.String()
	if prior, err := s.ws.Git.FindRevert(ctx, s.ws.Branch, intro.Hash, s.history); err == nil && prior != nil {
		out.Action, out.Commit = "already-reverted", prior.Hash.String()
		out.Reason = fmt.Sprintf("%s is already reverted by %s", short(out.Reverted), short(prior.Hash.String()))
		return out, nil
	}
	who := person
	if who == "" {
		who = "pipeline"
	}
	trailers := []gitops.Trailer{
		{Key: workspace.TrailerRollback, Value: app.Name + "/" + stage.Name},
		{Key: workspace.TrailerRequestedBy, Value: who},
	}
	out, err := s.revert(ctx, pol, app, stage, intro, trailers, s.now().UTC().Truncate(time.Second), "request/"+intro.Hash.String(), out)
	if err != nil {
		return out, err
	}
	if out.Action == "reverted" {
		_ = s.reconcile(ctx, stage, &out) // the reason says so; a person asked and reads it
	}
	if out.Action == "reverted" || out.Action == "revert-pr" || out.Action == "conflict" {
		if err := s.commentOriginal(ctx, intro, &out, failure{}); err != nil {
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
		if err := ed.Remove(f); err != nil {
			return false, err
		}
	}
	old, err := prev.List(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, f := range old {
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
		if !isRevert(c) {
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
		for _, v := range gitops.TrailerValues(cc.Message, gitops.TrailerPromotion) {
			if a, st, ok := strings.Cut(v, "/"); ok && a != "" && st != "" {
				return a, st, true
			}
		}
	}
	return "", "", false
}

// replyText renders an outcome as a pull request answer.
func replyText(out Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Rollback of %s in %s: **%s**. %s.", short(out.Reverted), out.Stage, out.Action, out.Reason)
	for _, c := range out.Conflicts {
		fmt.Fprintf(&b, "\n- conflict in `%s` (%s)", c.Path, c.Kind)
	}
	if len(out.Reconciled) > 0 {
		fmt.Fprintf(&b, "\n\nAsked Flux to reconcile %s.", strings.Join(out.Reconciled, ", "))
	}
	return b.String()
}
