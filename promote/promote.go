package promote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/workspace"
)

// promote makes one promotion from a verified source stage into stage to.
func (s *Service) promote(ctx context.Context, snap workspace.Snapshot, app *policy.App, from, to *policy.Stage, v Verification, trig Trigger, person string) (Outcome, error) {
	out := Outcome{App: app.Name, From: from.Name, To: to.Name}
	refs, err := verifiedRefs(v.Images, to.Promotion.Images)
	if err != nil {
		return out, err
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	meta := vocab.NewPromotion(app.Name, from.Name, to.Name, names, v.Revision, v.Cluster+"/"+v.Namespace+"/"+v.Canary)
	out.Images = meta.Images
	out.ID = meta.ID
	pol := snap.Policy
	// This may end in a proposal: announce it, so that a burst of
	// proposals already gathering waits for it while it reads the open
	// and closed pull requests (two Gitea calls) before it builds.
	expected := s.ws.Git.ExpectProposal()
	defer expected.Cancel()
	branch := promotionBranch(pol, app.Name, to.Name, meta.ID) // of a promotion opened before AGit
	p, err := s.plan(ctx, from, to, refs, v.Revision, snap.Tip)
	if err != nil {
		return out, err
	}

	var changes []Change
	edit := func(ed *gitops.TreeEditor) error {
		var err error
		changes, err = p.apply(treeView{ed})
		return err
	}
	commit := promotionCommit(pol, meta, v.At, person)
	label := forge.Label{Name: pol.Labels.Promotion, Color: "#1d76db", Description: "A promotion opened by ensign"}

	// The promotion may already be open (a restart, a resync).
	open, err := s.openPromotions(ctx, pol, app.Name, to.Name)
	if err != nil {
		return out, err
	}
	var pr forge.PullRequest
	for _, o := range open {
		if o.meta.ID == meta.ID {
			pr = o.pr
		}
	}
	rolledBack, err := s.rolledBack(ctx, to, names)
	if err != nil {
		return out, err
	}

	if pr.Number != 0 {
		expected.Cancel() // already open: nothing to propose
	} else {
		// A person closed this very promotion: respect that.
		closed, err := s.forge.ListClosedPullRequests(ctx, s.ws.Repo, pol.Labels.Promotion, 50)
		if err != nil {
			return out, err
		}
		for _, c := range closed {
			if c.Author == s.bot && !c.Merged && (c.HeadBranch == branch || c.AGit && promotionID(c) == meta.ID) {
				out.PR, out.URL, out.Action = c.Number, c.URL, ActionClosedByPerson
				out.Reason = fmt.Sprintf("promotion #%d of this version was closed without merging; not opening it again", c.Number)
				return out, nil
			}
		}
		// Dry run on the deploy branch: is there anything to promote?
		if err := s.buildOnly(snap.Tip, edit); errors.Is(err, gitops.ErrNothingToCommit) {
			out.Action, out.Reason = ActionAlreadyPromoted, to.Name+" already runs this version"
			s.closeSuperseded(ctx, open, "", alreadyRuns(to))
			return out, nil
		} else if err != nil {
			return out, err
		}
		// A direct push when the stage asks for it and nothing stands in the way.
		if to.Mode == policy.ModePush && rolledBack == "" && len(s.suspended(ctx, to)) == 0 {
			if st := pol.EvaluateStage(to, s.now()); st.Open {
				expected.Cancel()
				res, err := s.ws.Git.Update(ctx, gitops.Target{Branch: s.ws.Branch}, commit, s.ifStillOpen(app.Name, to.Name, edit))
				switch {
				case errors.Is(err, gitops.ErrNothingToCommit):
					out.Action, out.Reason = ActionAlreadyPromoted, to.Name+" already runs this version"
					return out, nil
				case errors.Is(err, errClosedSince):
					s.logger(ctx).Info("not pushing the promotion: the stage closed since it began; opening a pull request", "app", app.Name, "to", to.Name, "reason", err)
				case err != nil:
					return out, err
				default:
					out.Action, out.Commit, out.Changes, out.Reason = ActionPushed, res.Commit.String(), changes, st.Reason
					s.liftInCluster(ctx, to, out.Commit, &out)
					s.closeSuperseded(ctx, open, "", fmt.Sprintf("Closed by ensign: superseded by commit %s, pushed to %s.", short(res.Commit.String()), s.ws.Branch))
					return out, nil
				}
			}
		}
		// One push opens the pull request (Gitea's AGit flow): no branch,
		// and half the work for Gitea of a branch push and a POST /pulls,
		// which both run its git hooks. changes is the dry run's until the
		// push builds again on the tip of the moment. Unlike a merge, the
		// proposal does not wait for a rollback in flight (Yield): it moves
		// no branch, and Gitea takes the two pushes side by side sooner
		// than one after the other.
		title, body := Title(meta, changes), Body(meta, to.Overlay, v, changes)
		res, err := s.ws.Git.Update(ctx, gitops.Target{Branch: promotionTopic(app.Name, to.Name, meta.ID), Base: s.ws.Branch, Mode: gitops.Propose, PushOptions: forge.ProposalOptions(title, body), Expected: expected}, commit, edit)
		if err != nil {
			return out, err
		}
		if pr, err = s.proposed(ctx, meta, res.Commit.String(), Title(meta, changes), Body(meta, to.Overlay, v, changes), label); err != nil {
			return out, err
		}
		out.Changes = changes
	}
	out.PR, out.URL = pr.Number, pr.URL
	if !slices.Contains(pr.Labels, label.Name) {
		if _, err := s.forge.AddLabel(ctx, s.ws.Repo, pr.Number, label); err != nil {
			return out, err
		}
	}
	s.closeSuperseded(ctx, open, meta.ID, fmt.Sprintf("Closed by ensign: superseded by #%d, which promotes a newer verified version.", pr.Number))
	return s.settle(ctx, pol, app, to, pr, meta, Facts{Trigger: trig, AutoMerge: to.AutoMerge, RolledBack: rolledBack}, person, s.now(), out)
}

// proposed finds the pull request that the proposal of promotion m opened
// or moved (Gitea does it inside the push, before answering it), and brings
// its title and body to title and body, labelling it with label in the same
// call when it has no labels yet. head is the commit pushed. Two
// replicas that proposed m at the same moment (a leadership hand-over) may
// each have opened one: the oldest is kept and the others are closed.
func (s *Service) proposed(ctx context.Context, m vocab.Promotion, head, title, body string, label forge.Label) (forge.PullRequest, error) {
	prs, err := s.forge.ListOpenPullRequests(ctx, s.ws.Repo, "")
	if err != nil {
		return forge.PullRequest{}, err
	}
	var mine []forge.PullRequest
	for _, pr := range prs {
		if pr.Author == s.bot && pr.AGit && (pr.HeadSHA == head || promotionID(pr) == m.ID) {
			mine = append(mine, pr)
		}
	}
	if len(mine) == 0 {
		return forge.PullRequest{}, fmt.Errorf("%w: pushed promotion %s to refs/for/%s, but no pull request holds it", ErrNoProposal, m.ID, s.ws.Branch)
	}
	slices.SortFunc(mine, func(a, b forge.PullRequest) int { return cmp.Compare(a.Number, b.Number) })
	pr := mine[0]
	for _, dup := range mine[1:] {
		if err := s.forge.ClosePullRequest(ctx, s.ws.Repo, dup.Number, fmt.Sprintf("Closed by ensign: a duplicate of #%d, opened at the same moment.", pr.Number)); err != nil {
			s.logger(ctx).Warn("close a duplicate promotion", "pr", dup.Number, "of", pr.Number, "err", err)
		}
	}
	var labels []forge.Label
	if len(pr.Labels) == 0 {
		labels = []forge.Label{label}
	}
	if pr.Title != title || pr.Body != body || labels != nil {
		if err := s.forge.UpdatePullRequest(ctx, s.ws.Repo, pr.Number, title, body, labels...); err != nil {
			return forge.PullRequest{}, err
		}
		pr.Title, pr.Body = title, body
		if labels != nil {
			pr.Labels = []string{label.Name}
		}
	}
	if pr.HeadSHA == "" {
		pr.HeadSHA = head
	}
	return pr, nil
}

// ErrNoProposal means a promotion was pushed to refs/for/ but the server
// opened no pull request from it: Gitea or Forgejo with git 2.29 or newer
// is needed (the AGit flow).
var ErrNoProposal = errors.New("the server opened no pull request from the proposal")

// promotionID is the id in the promotion record of pr's body, or "".
func promotionID(pr forge.PullRequest) string {
	m, err := vocab.ParsePromotion(pr.Body)
	if err != nil {
		return ""
	}
	return m.ID
}

// errClosedSince: the policy on the tree a direct push would land on no
// longer lets the promotion through (a freeze or a window change committed
// since the promotion began).
var errClosedSince = errors.New("the stage's window closed since the promotion began")

// ifStillOpen wraps a direct push's edit: the edit runs on the deploy
// branch's tip as it is at push time, and the policy file in that very tree
// must still have stage to of app open. The push is compare-and-swap, so
// no freeze can land between this check and the push.
func (s *Service) ifStillOpen(app, to string, edit func(*gitops.TreeEditor) error) func(*gitops.TreeEditor) error {
	return func(ed *gitops.TreeEditor) error {
		data, err := ed.ReadFile(s.ws.PolicyFile)
		if err != nil {
			return fmt.Errorf("%w: read %s: %w", errClosedSince, s.ws.PolicyFile, err)
		}
		pol, err := policy.Load(s.ws.PolicyFile, data)
		if err != nil {
			return fmt.Errorf("%w: %w", errClosedSince, err)
		}
		a := pol.App(app)
		if a == nil || a.Stage(to) == nil {
			return fmt.Errorf("%w: the policy no longer has stage %s of %s", errClosedSince, to, app)
		}
		if st := pol.EvaluateStage(a.Stage(to), s.now()); !st.Open {
			return fmt.Errorf("%w: %s", errClosedSince, st.Reason)
		}
		return edit(ed)
	}
}

// promotionCommit is the commit of promotion m: its message and trailers.
// at is when the version was verified; person, if any, asked for it.
func promotionCommit(pol *policy.Policy, m vocab.Promotion, at time.Time, person string) gitops.CommitMeta {
	trailers := []gitops.Trailer{
		{Key: vocab.TrailerPromotion, Value: m.App + "/" + m.To},
		{Key: vocab.TrailerPromotionID, Value: m.ID},
		{Key: vocab.TrailerSource, Value: m.From + "@" + orUnknown(m.Revision)},
		{Key: vocab.TrailerVerifiedBy, Value: m.Canary},
	}
	for _, n := range m.Images {
		trailers = append(trailers, gitops.Trailer{Key: vocab.TrailerImage, Value: n})
	}
	if person != "" {
		trailers = append(trailers, gitops.Trailer{Key: vocab.TrailerRequestedBy, Value: person})
	}
	return gitops.CommitMeta{
		Message:  fmt.Sprintf("Promote %s to %s\n\nVerified by canary %s in %s.", m.App, m.To, m.Canary, m.From),
		Trailers: trailers,
		Author:   gitops.Identity{Name: pol.Identity.Name, Email: pol.Identity.Email},
		When:     commitTime(at),
	}
}

// buildOnly runs edit against a commit's tree without writing anything, to
// learn whether a promotion would change the target: ErrNothingToCommit if
// it would not.
func (s *Service) buildOnly(tip plumbing.Hash, edit func(*gitops.TreeEditor) error) error {
	ed, err := s.ws.Git.Snapshot(tip)
	if err != nil {
		return err
	}
	before, err := ed.Write()
	if err != nil {
		return err
	}
	if err := edit(ed); err != nil {
		return err
	}
	after, err := ed.Write()
	if err != nil {
		return err
	}
	if before == after {
		return gitops.ErrNothingToCommit
	}
	return nil
}

// snapshotAt reads the repository at a revision, fetching it if the cache
// lacks it.
func (s *Service) snapshotAt(ctx context.Context, rev string) (treeView, error) {
	h := plumbing.NewHash(rev)
	if h.IsZero() || len(rev) != 40 {
		return treeView{}, fmt.Errorf("not a full commit id: %q", rev)
	}
	if err := s.ws.Git.FetchCommit(ctx, h, 1); err != nil {
		return treeView{}, err
	}
	ed, err := s.ws.Git.Snapshot(h)
	if err != nil {
		return treeView{}, err
	}
	return treeView{ed}, nil
}

// verifiedRefs parses the verified images, keeping those the stage promotes.
func verifiedRefs(images, only []string) ([]imageref.Ref, error) {
	var out []imageref.Ref
	for _, im := range images {
		r, err := imageref.Parse(im)
		if err != nil {
			return nil, err
		}
		if len(only) > 0 && !contains(only, r.Name) {
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the workload runs %s, the stage promotes %s", ErrNothingMatched, strings.Join(images, ", "), strings.Join(only, ", "))
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// commitTime makes promotion commits reproducible: the same verification
// gives the same commit on the same base, so a retried force-push is a no-op.
func commitTime(at time.Time) time.Time {
	if at.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return at.UTC().Truncate(time.Second)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
