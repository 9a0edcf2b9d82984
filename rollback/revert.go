package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

// revert writes the revert of intro and lands it as d says: pushed to the
// deploy branch (PushRevert), or as a revert pull request (OpenRevertPR;
// d.Reason then says why, if the policy asked for a push).
//
// key identifies what the revert answers (a failure, or a person's request);
// the revert pull request's body carries it, so a merged revert PR is found
// again later.
//
// A conflict, an already-reverted commit or a revert gitops declines for
// good (ActionRefused: a .gitattributes merge driver it does not run, a
// history git's own merge aborts on) is an outcome, not an error; an error
// (Gitea or the network failing) comes back with ActionError and is
// returned as it is, so callers can retry it.
func (s *Service) revert(ctx context.Context, pol *policy.Policy, app *policy.App, stage *policy.Stage, intro *gitops.CommitInfo, trailers []gitops.Trailer, when time.Time, key string, d Decision, out Outcome) (Outcome, error) {
	req := revertRequest(pol, intro, trailers, when)
	req.Also = guardEdit(stage, out.Failing, key)
	out.Reason = ""
	if d.Verdict == PushRevert {
		res, err := s.ws.Git.Revert(ctx, gitops.Target{Branch: s.ws.Branch}, req)
		return s.revertResult(out, res, err, ActionReverted, fmt.Sprintf("pushed the revert of %s to %s", short(intro.Hash.String()), s.ws.Branch))
	}
	if d.Reason != "" {
		out.Reason = d.Reason + "; "
	}
	branch := pol.BranchPrefix + "rollback/" + app.Name + "/" + stage.Name + "/" + short(intro.Hash.String())
	res, err := s.ws.Git.Revert(ctx, gitops.Target{Branch: branch, Base: s.ws.Branch, Mode: gitops.ForceBranch}, req)
	if out, err = s.revertResult(out, res, err, ActionRevertPR, ""); err != nil || out.Action != ActionRevertPR {
		return out, err
	}
	subject := firstLine(intro.Message)
	pr, _, err := s.forge.EnsurePullRequest(ctx, s.ws.Repo, forge.NewPullRequest{
		Head: branch, Base: s.ws.Branch,
		Title: fmt.Sprintf("Revert %q", subject),
		Body:  revertPRBody(app, stage, intro, out, key),
	})
	if err != nil {
		out.Action, out.Reason = ActionError, fmt.Sprintf("pushed %s but could not open its pull request", branch)
		return out, fmt.Errorf("open the revert pull request for %s: %w", branch, err)
	}
	out.PR = pr.Number
	out.Reason += fmt.Sprintf("opened revert pull request #%d", pr.Number)
	if _, err := s.forge.AddLabel(ctx, s.ws.Repo, pr.Number, forge.Label{Name: pol.Labels.Rollback, Color: "#d93f0b", Description: "A revert opened by ensign"}); err != nil {
		s.logger(ctx).Warn("label revert pull request", "pr", pr.Number, "err", err)
	}
	return out, nil
}

// revertRequest is the gitops request of the revert of intro: mainline 1
// for a merge commit, ensign's Ensign-Reverts trailer before the others,
// signed as the policy's identity and dated when.
func revertRequest(pol *policy.Policy, intro *gitops.CommitInfo, trailers []gitops.Trailer, when time.Time) gitops.RevertRequest {
	mainline := 0
	if len(intro.Parents) > 1 {
		mainline = 1
	}
	return gitops.RevertRequest{
		Commit: intro.Hash, Mainline: mainline,
		Trailers: append([]gitops.Trailer{{Key: vocab.TrailerReverts, Value: intro.Hash.String()}}, trailers...),
		Author:   gitops.Identity{Name: pol.Identity.Name, Email: pol.Identity.Email}, When: when,
	}
}

func (s *Service) revertResult(out Outcome, res *gitops.Result, err error, action Action, reason string) (Outcome, error) {
	var conflict *gitops.ConflictError
	switch {
	case errors.As(err, &conflict):
		out.Action, out.Conflicts = ActionConflict, conflict.Conflicts
		out.Reason = fmt.Sprintf("the revert of %s conflicts in %s; a person must resolve it", short(out.Reverted), strings.Join(conflict.Paths(), ", "))
	case errors.Is(err, gitops.ErrAlreadyReverted):
		out.Action, out.Reason = ActionAlreadyReverted, "the revert would change nothing: the deploy branch already undoes "+short(out.Reverted)
	case errors.Is(err, gitops.ErrUnsupportedAttribute), errors.Is(err, gitops.ErrGitCannotMerge):
		// Deterministic, like a conflict: trying again gives the same
		// answer, so it is refused for a person and not returned to retry.
		out.Action, out.Reason = ActionRefused, fmt.Sprintf("ensign cannot write the revert of %s itself (%v); a person must revert it", short(out.Reverted), err)
	case err != nil:
		out.Action, out.Reason = ActionError, "the revert was not written"
		return out, fmt.Errorf("revert %s: %w", short(out.Reverted), err)
	default:
		out.Action, out.Commit = action, res.Commit.String()
		out.Reason += reason
	}
	return out, nil
}

// followUp asks Flux to reconcile and comments on the original pull request.
// Each step is safe to run again (reconciling twice is harmless, the comment
// is upserted, the event is keyed), so an error here means "try again later":
// the failure is handled again and resumes where it stopped.
//
// resumed says that an earlier handling wrote the revert (a restart, a
// resync or an API-server reconnect hands ensign the Failed canary again
// before Flux has applied the revert; once it has, the target runs the old
// version and there is nothing to follow up). Its comment is then written
// only if it is missing: rewriting it would replace what people read (what
// ensign did, and the canary's warnings then) with "reverted before".
func (s *Service) followUp(ctx context.Context, stage *policy.Stage, f failure, out Outcome, resumed bool) (Outcome, error) {
	errs := []error{s.guardImages(ctx, stage, f, &out)}
	if refs, err := s.clusters.Suspended(ctx, stage); err == nil {
		for _, r := range refs {
			out.Suspended = append(out.Suspended, r.String())
		}
	}
	if out.Action == ActionReverted || out.Action == ActionAlreadyReverted && out.PR != 0 {
		errs = append(errs, s.reconcile(ctx, stage, &out))
	}
	if out.Reverted != "" {
		h := plumbing.NewHash(out.Reverted)
		err := s.ws.Git.FetchCommit(ctx, h, 1) // a fresh, shallow cache may not reach it
		var c *gitops.CommitInfo
		if err == nil {
			c, err = s.ws.Git.Commit(h)
		}
		if err == nil {
			err = s.commentOriginal(ctx, c, &out, f, resumed)
		}
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// reconcile asks Flux to apply the deploy branch now.
func (s *Service) reconcile(ctx context.Context, stage *policy.Stage, out *Outcome) error {
	refs, err := s.clusters.RequestReconcile(ctx, stage, s.now())
	for _, r := range refs {
		out.Reconciled = append(out.Reconciled, r.String())
	}
	if errors.Is(err, cluster.ErrNoKustomization) {
		// Nothing to ask, and asking again will not change that: Flux
		// applies the revert on its interval. Retrying would run this
		// rollback again every few seconds, forever.
		out.Reason += "; no Flux Kustomization to ask to reconcile: " + err.Error()
		return nil
	}
	if err != nil {
		out.Reason += "; could not ask Flux to reconcile: " + err.Error()
		return fmt.Errorf("ask Flux to reconcile %s: %w", stage.Name, err)
	}
	return nil
}

// commentOriginal upserts ensign's rollback comment on the pull request that
// introduced the commit (found by Gitea's commit-to-PR lookup), or with
// onlyIfMissing writes it only if it is not there; with no pull request, a
// conflict or refusal goes into an issue so a person still hears of it.
func (s *Service) commentOriginal(ctx context.Context, intro *gitops.CommitInfo, out *Outcome, f failure, onlyIfMissing bool) error {
	marker := vocab.RollbackMarker(intro.Hash.String())
	pr, ok, err := s.forge.PullRequestForCommit(ctx, s.ws.Repo, intro.Hash.String())
	if err != nil {
		return err
	}
	if ok {
		out.OriginalPR = pr.Number
		if onlyIfMissing {
			if _, found, err := s.forge.FindComment(ctx, s.ws.Repo, pr.Number, marker); err != nil || found {
				return err
			}
		}
		_, _, err := s.forge.UpsertComment(ctx, s.ws.Repo, pr.Number, marker, s.failureReport(ctx, f, *out))
		return err
	}
	text := s.failureReport(ctx, f, *out)
	if out.Action == ActionConflict || out.Action == ActionRefused {
		title := fmt.Sprintf("ensign could not roll back %s/%s", out.App, out.Stage)
		_, err := s.forge.EnsureIssue(ctx, s.ws.Repo, marker, title, text)
		return err
	}
	return nil
}

// failureReport renders what failed and what ensign did about it.
func (s *Service) failureReport(ctx context.Context, f failure, out Outcome) string {
	var b strings.Builder
	c := f.canary
	if c != nil {
		fmt.Fprintf(&b, "### Canary `%s/%s` in `%s` failed\n\n", c.Namespace, c.Name, f.cluster)
		fmt.Fprintf(&b, "- Phase: **%s** at %s", c.Status.Phase, f.at.Format(time.RFC3339))
		if c.Status.FailedChecks > 0 { // Flagger resets it to 0 once Failed
			fmt.Fprintf(&b, " after %d failed checks", c.Status.FailedChecks)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "### Rollback of %s/%s\n\n", out.App, out.Stage)
	}
	if len(out.Failing) > 0 {
		fmt.Fprintf(&b, "- Failing version: `%s`\n", strings.Join(out.Failing, "`, `"))
	}
	fmt.Fprintf(&b, "- ensign: **%s**: %s\n", out.Action, out.Reason)
	if out.StalePolicy != "" {
		fmt.Fprintf(&b, "- Policy: %s\n", out.StalePolicy)
	}
	if len(out.Suspended) > 0 {
		fmt.Fprintf(&b, "- Flux is suspended for this stage (%s): Git now says what should run, and Flux applies it when it resumes\n", strings.Join(out.Suspended, ", "))
	}
	if out.Commit != "" {
		fmt.Fprintf(&b, "- Revert commit: %s\n", out.Commit)
	}
	if out.PR != 0 {
		fmt.Fprintf(&b, "- Revert pull request: #%d\n", out.PR)
	}
	for _, cf := range out.Conflicts {
		fmt.Fprintf(&b, "- Conflict: `%s` (%s)\n", cf.Path, cf.Kind)
	}
	b.WriteString(exclusionReport(f.cluster, out))
	if c != nil {
		events, err := s.clusters.WarningEvents(ctx, f.cluster, c, 5)
		if err == nil && len(events) > 0 {
			// Event text comes from anything that can write Events: shown
			// verbatim in a code block, it cannot link, embed or mention.
			b.WriteString("\nRecent warning events of the canary:\n\n")
			lines := make([]string, len(events))
			for i, e := range events {
				lines[i] = fmt.Sprintf("%s %s: %s", e.Time.UTC().Format(time.RFC3339), oneLine(e.Reason), oneLine(e.Message))
			}
			b.WriteString(vocab.CodeBlock(lines))
		}
	}
	return b.String()
}

// event records the outcome on the canary, once per failure and action.
func (s *Service) event(ctx context.Context, f failure, out Outcome) error {
	if f.canary == nil {
		return nil
	}
	typ := corev1.EventTypeNormal
	if out.Action.Warning() {
		typ = corev1.EventTypeWarning
	}
	msg := string(out.Action) + ": " + out.Reason
	if out.StalePolicy != "" {
		msg += " (" + out.StalePolicy + ")"
	}
	n := cluster.Note{Type: typ, Reason: "Rollback", Message: msg,
		Key: "rollback-" + f.eventKey(out.Failing) + "-" + string(out.Action)}
	return s.clusters.RecordEvent(ctx, f.cluster, f.canary, n, s.now())
}

// mergedRevertPR finds ensign's merged revert pull request for this failure.
// It matches the failure by its canary and failing images, not by the exact
// failure id: the real Flagger moves a Failed canary's lastTransitionTime at
// every interval.
func (s *Service) mergedRevertPR(ctx context.Context, pol *policy.Policy, f failure, failing []imageref.Ref) (forge.PullRequest, bool, error) {
	prs, err := s.forge.ListClosedPullRequests(ctx, s.ws.Repo, pol.Labels.Rollback, 50)
	if err != nil {
		return forge.PullRequest{}, false, err
	}
	key := strings.TrimSuffix(vocab.RevertKey(f.canaryKey()+"@"), " -->")
	for _, pr := range prs {
		if !pr.Merged || pr.Author != s.bot || !strings.Contains(pr.Body, key) {
			continue
		}
		all := true
		for _, r := range failing {
			all = all && strings.Contains(pr.Body, "`"+r.String()+"`")
		}
		if all {
			return pr, true, nil
		}
	}
	return forge.PullRequest{}, false, nil
}

func revertPRBody(app *policy.App, stage *policy.Stage, intro *gitops.CommitInfo, out Outcome, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Roll back %s in %s\n\n", app.Name, stage.Name)
	fmt.Fprintf(&b, "This reverts %s (%q), which brought `%s` into `%s`.\n\n", intro.Hash, firstLine(intro.Message), strings.Join(out.Failing, "`, `"), stage.Overlay)
	b.WriteString("Merge it to make Git match what Flagger rolled back to.\n\n")
	b.WriteString(vocab.RevertKey(key) + "\n")
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
