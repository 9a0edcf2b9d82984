package promote

import (
	"bytes"
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
)

// ErrForeignHead means a promotion pull request's head is not the commit
// ensign builds for that promotion: someone pushed to ensign's branch.
// ensign never merges it; it puts its own commit back on the branch.
var ErrForeignHead = errors.New("the pull request's head is not the promotion ensign built")

// ErrAlteredPR means the promotion pull request itself was changed: it was
// retargeted, or its promotion record no longer matches its branch. ensign
// neither merges nor repairs it; a person must close it.
var ErrAlteredPR = errors.New("the pull request is not the promotion ensign opened")

// promotionTrailers are the trailer keys a promotion commit may carry.
var promotionTrailers = []string{vocab.TrailerPromotion, vocab.TrailerPromotionID, vocab.TrailerSource, vocab.TrailerVerifiedBy, vocab.TrailerImage, vocab.TrailerRequestedBy}

// historyToCheck bounds how far back on the deploy branch the base of a
// promotion commit is looked for.
const historyToCheck = 1000

// checkHead verifies that pr's head is exactly ensign's promotion m: on the
// branch ensign names for m, into the deploy branch, with an id that matches
// m's contents, and a single commit on a commit of the deploy branch whose
// tree is that commit's tree with the promotion applied and whose trailers
// are only ensign's. The body's marker and the branch are both writable by
// anyone with write access; what Git holds is checked against them here.
func (s *Service) checkHead(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion) error {
	foreign := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrForeignHead, fmt.Sprintf(format, args...))
	}
	altered := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrAlteredPR, fmt.Sprintf(format, args...))
	}
	if pr.BaseBranch != s.ws.Branch {
		return altered("it targets %s, not %s", pr.BaseBranch, s.ws.Branch)
	}
	// An AGit pull request's head can be moved only by its author, ensign,
	// pushing its topic again; a branch pull request must be on ensign's
	// branch for m (from before promotions were proposed by AGit).
	if pr.AGit && pr.Author != s.bot {
		return altered("it was opened by %s, not by ensign", pr.Author)
	}
	if want := promotionBranch(pol, m.App, m.To, m.ID); !pr.AGit && pr.HeadBranch != want {
		return altered("its branch is %s, not %s", pr.HeadBranch, want)
	}
	if vocab.NewPromotion(m.App, m.From, m.To, m.Images, m.Revision, m.Canary).ID != m.ID {
		return altered("its promotion record does not match its id %s", m.ID)
	}
	from := app.Stage(m.From)
	if from == nil {
		return altered("the policy has no stage %s to promote from", m.From)
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
	if ids := gitops.TrailerValues(c.Message, vocab.TrailerPromotionID); len(ids) != 1 || ids[0] != m.ID {
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
		return altered("%v", err)
	}
	tree, _, err := s.rebuildOn(ctx, from, to, refs, m, base)
	if err != nil {
		return err
	}
	if tree != c.Tree {
		return foreign("its head %s changes more than promoting %v into %s", short(pr.HeadSHA), m.Images, to.Overlay)
	}
	return nil
}

// rebuildOn applies promotion m on commit base without writing anything,
// and returns the tree it gives and the paths it writes or removes.
func (s *Service) rebuildOn(ctx context.Context, from, to *policy.Stage, refs []imageref.Ref, m vocab.Promotion, base plumbing.Hash) (plumbing.Hash, []string, error) {
	p, err := s.plan(ctx, from, to, refs, m.Revision, base)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	ed, err := s.ws.Git.Snapshot(base)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	rec := &recorder{treeView: treeView{ed}}
	if _, err := p.apply(rec); err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("rebuild promotion %s on %s: %w", m.ID, short(base.String()), err)
	}
	tree, err := ed.Write()
	return tree, rec.paths, err
}

// recorder is a tree that remembers the paths written to it or removed.
type recorder struct {
	treeView
	paths []string
}

func (r *recorder) WriteFile(name string, data []byte) error {
	r.paths = append(r.paths, name)
	return r.treeView.WriteFile(name, data)
}

func (r *recorder) Remove(name string) error {
	r.paths = append(r.paths, name)
	return r.treeView.Remove(name)
}

// behind reports whether the deploy branch, at tip, changed a file that
// the promotion pull request's head (ensign's own, checkHead verified it)
// writes since the commit that head is built on: a rollback's revert of
// the same overlay, an image exclusion, a person's fix. Merging the head
// then conflicts, so it is rebuilt on the tip first (rebase).
func (s *Service) behind(ctx context.Context, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion, tip plumbing.Hash) (bool, error) {
	c, err := s.ws.Git.Commit(plumbing.NewHash(pr.HeadSHA))
	if err != nil {
		return false, fmt.Errorf("read the head of #%d: %w", pr.Number, err)
	}
	if len(c.Parents) != 1 {
		return false, fmt.Errorf("the head of #%d has %d parents: %w", pr.Number, len(c.Parents), ErrForeignHead)
	}
	base := c.Parents[0]
	if base == tip {
		return false, nil
	}
	refs, err := verifiedRefs(m.Images, to.Promotion.Images)
	if err != nil {
		return false, err
	}
	_, paths, err := s.rebuildOn(ctx, app.Stage(m.From), to, refs, m, base)
	if err != nil {
		return false, err
	}
	for _, p := range paths {
		was, werr := s.ws.Git.ReadFile(base, p)
		is, ierr := s.ws.Git.ReadFile(tip, p)
		if (werr == nil) != (ierr == nil) || !bytes.Equal(was, is) {
			return true, nil
		}
	}
	return false, nil
}

// plan is the promotion of refs from one stage into another; the source
// tree is the verified revision, or fallback when it is unknown.
func (s *Service) plan(ctx context.Context, from, to *policy.Stage, refs []imageref.Ref, revision string, fallback plumbing.Hash) (promotion, error) {
	p := promotion{from: from, to: to, verified: refs}
	if revision != "" {
		src, err := s.snapshotAt(ctx, revision)
		if err != nil {
			s.logger(ctx).Warn("cannot read the verified revision; copy strategies will refuse", "revision", revision, "err", err)
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

// promotionBranch is the branch of a promotion's pull request opened
// before promotions were proposed by AGit (see promotionTopic).
func promotionBranch(pol *policy.Policy, app, to, id string) string {
	return pol.BranchPrefix + promotionTopic(app, to, id)
}

// promotionTopic is the topic of the AGit push that opens or moves the pull
// request of a promotion. Gitea keeps it as <bot>/<topic>, so it needs no
// prefix of its own, and it does not change with the policy's branchPrefix.
func promotionTopic(app, to, id string) string {
	return "promote/" + app + "/" + to + "/" + id
}

// ownHead makes sure pr's head is ensign's own promotion m before anything
// is decided about the pull request. A head someone else pushed is replaced
// by ensign's commit, rebuilt on the deploy branch's tip, and the pull
// request says so; replaced is the head that was thrown away. A pull
// request that was itself altered gives ErrAlteredPR.
func (s *Service) ownHead(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion) (_ forge.PullRequest, replaced string, _ error) {
	err := s.checkHead(ctx, pol, app, to, pr, m)
	if !errors.Is(err, ErrForeignHead) {
		return pr, "", err
	}
	s.logger(ctx).Warn("someone else pushed to a promotion branch; putting ensign's commit back", "pr", pr.Number, "head", pr.HeadSHA, "reason", err)
	got, rerr := s.rebase(ctx, pol, app, to, pr, m)
	if rerr != nil {
		// Nothing to commit: the deploy branch already runs the version;
		// the next resync closes the pull request as promoted.
		return pr, "", fmt.Errorf("put promotion %s back on %s: %w", m.ID, pr.HeadBranch, rerr)
	}
	head := got.HeadSHA
	text := fmt.Sprintf("🔁 **Replaced a commit ensign did not make.** The head of this pull request was %s: %s. ensign put its own promotion commit %s back on the branch; what was pushed is not part of this promotion and will not be merged by ensign. Protect the branch prefix so only ensign can push to it (see the Security model in ensign's README).",
		short(pr.HeadSHA), err.Error(), short(head))
	if _, _, cerr := s.forge.UpsertComment(ctx, s.ws.Repo, pr.Number, "<!-- ensign:replaced:"+pr.HeadSHA+" -->", text); cerr != nil {
		s.logger(ctx).Warn("say on the pull request that its head was replaced", "pr", pr.Number, "err", cerr)
	}
	return got, pr.HeadSHA, nil
}

// rebase builds promotion m again on the deploy branch's tip as last
// fetched, pushes it as the pull request's new head (its topic again, or
// force to its branch) and waits for Gitea to show it as the head.
// gitops.ErrNothingToCommit: the tip already runs the version.
func (s *Service) rebase(ctx context.Context, pol *policy.Policy, app *policy.App, to *policy.Stage, pr forge.PullRequest, m vocab.Promotion) (forge.PullRequest, error) {
	refs, err := verifiedRefs(m.Images, to.Promotion.Images)
	if err != nil {
		return pr, fmt.Errorf("%w: %w", ErrAlteredPR, err)
	}
	tip, _, err := s.ws.Git.Tip(s.ws.Branch)
	if err != nil {
		return pr, err
	}
	p, err := s.plan(ctx, app.Stage(m.From), to, refs, m.Revision, tip)
	if err != nil {
		return pr, err
	}
	edit := func(ed *gitops.TreeEditor) error { _, err := p.apply(treeView{ed}); return err }
	target := gitops.Target{Branch: pr.HeadBranch, Base: s.ws.Branch, Mode: gitops.ForceBranch}
	if pr.AGit {
		target = gitops.Target{Branch: promotionTopic(m.App, m.To, m.ID), Base: s.ws.Branch, Mode: gitops.Propose, PushOptions: forge.ProposalOptions(pr.Title, pr.Body)}
	}
	res, err := s.ws.Git.Update(ctx, target, promotionCommit(pol, m, s.now(), ""), edit)
	if err != nil {
		return pr, err
	}
	return s.awaitHead(ctx, pr.Number, res.Commit.String())
}

// awaitHead waits until Gitea shows head as the pull request's head: it
// updates pull requests asynchronously after a push.
func (s *Service) awaitHead(ctx context.Context, number int64, head string) (forge.PullRequest, error) {
	ctx, cancel := context.WithTimeout(ctx, headWait)
	defer cancel()
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		pr, err := s.forge.GetPullRequest(ctx, s.ws.Repo, number)
		if err == nil && pr.HeadSHA == head {
			return pr, nil
		}
		select {
		case <-ctx.Done():
			return pr, fmt.Errorf("wait for #%d to show head %s: %w (last error: %v)", number, short(head), ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

// headWait bounds how long ensign waits for Gitea to take a pushed head.
const headWait = 30 * time.Second

// refuse answers a promotion pull request that was altered: it is not
// merged, now or at any later attempt, and the pull request says why. A
// person closes it.
func (s *Service) refuse(ctx context.Context, pr forge.PullRequest, why error, out Outcome) (Outcome, error) {
	out.Action = ActionRefused
	out.Reason = why.Error()
	s.logger(ctx).Warn("refused to merge an altered promotion", "pr", pr.Number, "head", pr.HeadSHA, "reason", why)
	text := fmt.Sprintf("⛔ **Not merged.** %s.\n\nensign merges only the exact pull request and commit it made for a verified version. Someone changed this pull request after ensign opened it; review the changes, then close it.", vocab.UpperFirst(why.Error()))
	if err := s.forge.SetStatusSection(ctx, s.ws.Repo, pr.Number, "promotion", text); err != nil {
		return out, err
	}
	return out, nil
}
