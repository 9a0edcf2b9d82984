package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/imageref"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// ErrForeignHead means a promotion pull request's head is not the commit
// ensign builds for that promotion: someone pushed to ensign's branch, or
// retargeted or rewrote the pull request. ensign never merges it.
var ErrForeignHead = errors.New("the pull request's head is not the promotion ensign built")

// promotionTrailers are the trailer keys a promotion commit may carry.
var promotionTrailers = []string{gitops.TrailerPromotion, TrailerPromotionID, TrailerSource, TrailerVerifiedBy, workspace.TrailerImage, workspace.TrailerRequestedBy}

// historyToCheck bounds how far back on the deploy branch the base of a
// promotion commit is looked for.
const historyToCheck = 1000

// checkHead verifies that pr's head is exactly ensign's promotion m: on the
// branch ensign names for m, into the deploy branch, with an id that matches
// m's contents, and a single commit on a commit of the deploy branch whose
// tree is that commit's tree with the promotion applied and whose trailers
// are only ensign's. The body's marker and the branch are both writable by
// anyone with write access; what Git holds is checked against them here.
func (s *Service) checkHead(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m Meta) error {
	foreign := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrForeignHead, fmt.Sprintf(format, args...))
	}
	if pr.BaseBranch != s.ws.Branch {
		return foreign("it targets %s, not %s", pr.BaseBranch, s.ws.Branch)
	}
	if want := promotionBranch(pol, m.App, m.To, m.ID); pr.HeadBranch != want {
		return foreign("its branch is %s, not %s", pr.HeadBranch, want)
	}
	if NewMeta(m.App, m.From, m.To, m.Images, m.Revision, m.Canary).ID != m.ID {
		return foreign("its promotion record does not match its id %s", m.ID)
	}
	from := app.Stage(m.From)
	if from == nil {
		return foreign("the policy has no stage %s to promote from", m.From)
	}
	head := plumbing.NewHash(pr.HeadSHA)
	if err := s.ws.Git.FetchCommit(ctx, head, 2); err != nil {
		return fmt.Errorf("fetch the head of #%d: %w", pr.Number, err)
	}
	c, err := s.ws.Git.Commit(head)
	if err != nil {
		return fmt.Errorf("read the head of #%d: %w", pr.Number, err)
	}
	if len(c.Parents) != 1 {
		return foreign("its head %s has %d parents; ensign's promotion is one commit", short(pr.HeadSHA), len(c.Parents))
	}
	for _, tr := range gitops.ParseTrailers(c.Message) {
		if !slices.ContainsFunc(promotionTrailers, func(k string) bool { return strings.EqualFold(k, tr.Key) }) {
			return foreign("its head %s carries the trailer %s, which ensign does not write on promotions", short(pr.HeadSHA), tr.Key)
		}
	}
	if ids := gitops.TrailerValues(c.Message, TrailerPromotionID); len(ids) != 1 || ids[0] != m.ID {
		return foreign("its head %s is not promotion %s", short(pr.HeadSHA), m.ID)
	}
	base := c.Parents[0]
	onBranch := false
	err = s.ws.Git.Log(ctx, s.ws.Branch, gitops.LogOptions{Max: historyToCheck}, func(ci *gitops.CommitInfo) error {
		if ci.Hash == base {
			onBranch = true
			return gitops.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("look for the base of #%d on %s: %w", pr.Number, s.ws.Branch, err)
	}
	if !onBranch {
		return foreign("its head %s is built on %s, which is not on %s", short(pr.HeadSHA), short(base.String()), s.ws.Branch)
	}
	refs, err := verifiedRefs(m.Images, to.Promotion.Images)
	if err != nil {
		return foreign("%v", err)
	}
	p, err := s.plan(ctx, from, to, refs, m.Revision, base)
	if err != nil {
		return err
	}
	ed, err := s.ws.Git.Snapshot(base)
	if err != nil {
		return err
	}
	if _, err := p.apply(treeView{ed}); err != nil {
		return fmt.Errorf("rebuild promotion %s on %s: %w", m.ID, short(base.String()), err)
	}
	tree, err := ed.Write()
	if err != nil {
		return err
	}
	if tree != c.Tree {
		return foreign("its head %s changes more than promoting %v into %s", short(pr.HeadSHA), m.Images, to.Overlay)
	}
	return nil
}

// plan is the promotion of refs from one stage into another; the source
// tree is the verified revision, or fallback when it is unknown.
func (s *Service) plan(ctx context.Context, from, to *policy.Stage, refs []imageref.Ref, revision string, fallback plumbing.Hash) (promotion, error) {
	p := promotion{from: from, to: to, verified: refs}
	if revision != "" {
		src, err := s.snapshotAt(ctx, revision)
		if err != nil {
			s.log.Warn("cannot read the verified revision; copy strategies will refuse", "revision", revision, "err", err)
			return p, nil
		}
		p.source = src
	} else if to.Promotion.Strategy == policy.StrategyImages || to.Promotion.Strategy == "" {
		// Only used to find how to add an image the target lacks.
		if src, err := s.ws.Git.Snapshot(fallback); err == nil {
			p.source = treeView{src}
		}
	}
	return p, nil
}

// promotionBranch is the branch of a promotion's pull request.
func promotionBranch(pol *policy.Policy, app, to, id string) string {
	return pol.BranchPrefix + "promote/" + app + "/" + to + "/" + id
}

// refuse answers a promotion whose head ensign did not build: it is not
// merged, now or at any later attempt while the head stays foreign, and the
// pull request says why. A person closes it; ensign opens the promotion
// again from the canary's verification, on a new branch.
func (s *Service) refuse(ctx context.Context, pr forge.PullRequest, why error, out Outcome) (Outcome, error) {
	out.Action = "refused"
	out.Reason = why.Error()
	s.log.Warn("refused to merge a promotion ensign did not build", "pr", pr.Number, "head", pr.HeadSHA, "reason", why)
	text := fmt.Sprintf("⛔ **Not merged.** %s.\n\nensign merges only the exact commit it built for a verified version. Someone changed this pull request after ensign opened it; review the changes, then close it. Protect the branch prefix so only ensign can push to it (see the Security model in ensign's README).", upper(why.Error()))
	if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
		return out, err
	}
	return out, nil
}

func upper(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
