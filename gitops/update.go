package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// PushMode says how a change lands on its target branch.
type PushMode int

const (
	// FastForward builds on the target branch's tip and moves the branch
	// forward only if it still has that tip.
	FastForward PushMode = iota
	// CreateBranch builds on Target.Base's tip and creates Target.Branch,
	// which must not exist yet (a new PR branch).
	CreateBranch
	// ForceBranch builds on Target.Base's tip and replaces whatever
	// Target.Branch holds (the bot's own PR branch), still as a
	// compare-and-swap on the value the server showed.
	ForceBranch
	// Propose builds on Target.Base's tip and pushes the commit to
	// refs/for/<Base>/<Branch> (the AGit flow of Gitea and Forgejo): the
	// server opens a pull request from it into Base, or moves the head of
	// the one the same pusher opened from the same topic, Branch. No branch
	// is created. The server decides what the push does, so it is not a
	// compare-and-swap; a commit the pull request already has is a success.
	// Proposals that come in together are pushed in one push.
	Propose
)

// Target says where a change is built and pushed.
type Target struct {
	Branch string   // branch to update
	Base   string   // branch to build on for CreateBranch/ForceBranch
	Mode   PushMode // default FastForward
	// MaxAttempts bounds the fetch-rebuild-push loop on lost races; 0 means 5.
	MaxAttempts int
	// PushOptions are sent with a Propose push as git push options
	// ("key=value", as `git push -o`), when the server accepts them. The
	// proposals of one repository that come in together are pushed
	// together, with only the options they all have.
	PushOptions []string
	// Expected is the proposal's announcement (Repo.ExpectProposal), if
	// the caller made one; the first attempt of a Propose push uses it.
	Expected *Expected
}

// ref is the reference the push updates.
func (t Target) ref() plumbing.ReferenceName {
	if t.Mode == Propose {
		return plumbing.ReferenceName("refs/for/" + t.Base + "/" + t.Branch)
	}
	return plumbing.NewBranchReferenceName(t.Branch)
}

func (t Target) base() string {
	if t.Mode == FastForward || t.Base == "" {
		return t.Branch
	}
	return t.Base
}

func (t Target) validate() error {
	if t.Branch == "" {
		return errors.New("target has no branch")
	}
	if err := t.ref().Validate(); err != nil || !plumbing.NewBranchReferenceName(t.Branch).IsBranch() {
		return fmt.Errorf("bad branch name %q", t.Branch)
	}
	if t.Mode == FastForward && t.Base != "" && t.Base != t.Branch {
		return fmt.Errorf("fast-forward of %s cannot build on another branch %s", t.Branch, t.Base)
	}
	if t.Mode != FastForward && t.Base == "" {
		return fmt.Errorf("creating, force-updating or proposing %s needs a base branch", t.Branch)
	}
	if len(t.PushOptions) > 0 && t.Mode != Propose {
		return fmt.Errorf("push options go only with a proposal, not with a push to %s", t.Branch)
	}
	for _, o := range t.PushOptions {
		if strings.ContainsAny(o, "\n\x00") {
			return fmt.Errorf("push option %.40q has a newline or NUL", o)
		}
	}
	return nil
}

// Result describes a pushed commit.
type Result struct {
	Commit   plumbing.Hash // the new commit, now the tip of Target.Branch
	Parent   plumbing.Hash // the base it was built on
	Attempts int           // pushes tried (1 unless races were lost)
}

// buildFunc builds a commit on base and returns it; objs collects the new
// objects. Returning an error stops the loop (sentinels pass through).
type buildFunc func(ctx context.Context, objs *objectSet, base *CommitInfo) (plumbing.Hash, error)

// Update applies edit to the tree of the base branch's tip, commits it with
// meta on top of that tip and pushes it to target. If someone else pushed
// first, it fetches, re-runs edit on the new tip and tries again, up to
// target.MaxAttempts times. An edit that changes nothing gives
// ErrNothingToCommit and pushes nothing. edit may be called several times and
// must start from the editor it is given each time.
func (r *Repo) Update(ctx context.Context, target Target, meta CommitMeta, edit func(*TreeEditor) error) (*Result, error) {
	if err := meta.validate(); err != nil {
		return nil, fmt.Errorf("update %s: %w", target.Branch, err)
	}
	return r.land(ctx, target, func(ctx context.Context, objs *objectSet, base *CommitInfo) (plumbing.Hash, error) {
		ed := newTreeEditor(objs, base.Tree)
		if err := edit(ed); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("edit: %w", err)
		}
		tree, err := ed.Write()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("write tree: %w", err)
		}
		if tree == base.Tree {
			return plumbing.ZeroHash, ErrNothingToCommit
		}
		return buildCommit(objs, tree, []plumbing.Hash{base.Hash}, meta)
	})
}

// land runs the build-push loop shared by Update and Revert.
func (r *Repo) land(ctx context.Context, target Target, build buildFunc) (*Result, error) {
	if err := target.validate(); err != nil {
		return nil, err
	}
	// Writes of the base branch itself (the deploy branch: reverts, direct
	// pushes) run one at a time with the other operations. A side branch
	// built on another (a promotion's) is pushed alongside them: its push
	// moves no ref anyone else writes, and a slow one must not hold up a
	// rollback's fetch or push.
	side := target.base() != target.Branch
	if !side {
		release, err := r.begin(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	max := target.MaxAttempts
	if max <= 0 {
		max = 5
	}
	var lastErr error
	for attempt := 1; attempt <= max; attempt++ {
		res, err := r.landOnce(ctx, target, build, side)
		if err == nil {
			res.Attempts = attempt
			return res, nil
		}
		var rej *PushRejectedError
		if !errors.As(err, &rej) || !rej.Stale {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, max, lastErr)
}

// landOnce builds on the base's tip as the remote advertises it and pushes.
// side: the caller does not hold the operation lock (a side branch); the
// base's tip is then not recorded (a fetch running alongside may have
// recorded a newer one), and a base missing from the cache is fetched
// under the lock.
// fetchCommitLocked fetches commit h (a branch tip the remote advertised)
// and the history behind it the cache lacks, under the operation lock.
func (r *Repo) fetchCommitLocked(ctx context.Context, h plumbing.Hash) error {
	release, err := r.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.fetchCommit(ctx, h, 0)
}

func (r *Repo) landOnce(ctx context.Context, target Target, build buildFunc, side bool) (_ *Result, err error) {
	ctx, done := r.network(ctx, "push")
	defer func() { done(err) }()
	var coming *arrival
	if target.Mode == Propose {
		// A burst of proposals waits for this one while it reads the
		// server's refs and builds.
		coming = r.proposals.resume(target.Expected)
		defer coming.cancel()
	}
	ps, err := r.openPush(ctx)
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	baseName := target.base()
	baseTip, ok := ps.tips[baseName]
	if !ok {
		return nil, fmt.Errorf("%s: %w", baseName, ErrBranchMissing)
	}
	old, exists := ps.tips[target.Branch]
	switch target.Mode {
	case CreateBranch:
		if exists {
			return nil, fmt.Errorf("create %s: %w", target.Branch, ErrBranchExists)
		}
	case ForceBranch:
	case Propose:
		old = plumbing.ZeroHash
	default:
		old = baseTip
	}
	if !r.hasObject(baseTip) {
		if side {
			err = r.fetchCommitLocked(ctx, baseTip)
		} else {
			_, err = r.fetch(ctx, FetchOptions{Branches: []string{baseName}})
		}
		if err != nil {
			return nil, err
		}
	}
	objs := newObjectSet(r)
	base, err := objs.commit(baseTip)
	if err != nil {
		return nil, fmt.Errorf("read tip of %s: %w", baseName, err)
	}
	commit, err := build(ctx, objs, base)
	if err != nil {
		return nil, err
	}
	if target.Mode == Propose {
		err = r.propose(ctx, ps, target, commit, objs, coming)
	} else {
		err = ps.update(ctx, target.Branch, old, commit, objs)
	}
	if err != nil {
		return nil, err
	}
	if err := objs.persist(); err != nil {
		return nil, err
	}
	if !side {
		if err := r.setTip(baseName, baseTip); err != nil {
			return nil, err
		}
	}
	if target.Mode != Propose {
		if err := r.setTip(target.Branch, commit); err != nil {
			return nil, err
		}
	}
	return &Result{Commit: commit, Parent: baseTip}, nil
}
