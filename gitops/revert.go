package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// RevertRequest names the commit to revert and how to sign the revert.
type RevertRequest struct {
	Commit plumbing.Hash
	// Mainline is the 1-based parent to revert to for a merge commit (git
	// revert -m). It must be 0 or 1 for a single-parent commit.
	Mainline  int
	Trailers  []Trailer // added after git's message
	Author    Identity
	Committer Identity  // zero means Author
	When      time.Time // zero means time.Now()
	// Also, if set, edits the reverted tree before it is committed, so that
	// more changes travel in the same commit (ensign excludes the failed tag
	// from an image automation's policy there). It may run several times,
	// each on a fresh editor, and must not fail for retryable reasons.
	Also func(*TreeEditor) error
}

// Revert writes a commit that undoes req.Commit on top of the base branch's
// tip, with git's semantics and message, and pushes it to target, re-merging
// on the new tip when it loses a race. The message is git's ("Revert
// \"<subject>\"" and "This reverts commit <sha>.") followed by req.Trailers.
// It returns ErrAlreadyReverted if the revert
// would change nothing, a *ConflictError if git would stop with conflicts,
// and wraps ErrRootCommit, ErrNotFound or ErrBadMainline for bad requests.
// Old commits missing from a shallow cache are fetched on demand.
func (r *Repo) Revert(ctx context.Context, target Target, req RevertRequest) (*Result, error) {
	if err := req.Author.validate(); err != nil {
		return nil, fmt.Errorf("revert %s: author: %w", req.Commit, err)
	}
	return r.land(ctx, target, func(ctx context.Context, objs *objectSet, base *CommitInfo) (plumbing.Hash, error) {
		tree, meta, err := r.revertTree(ctx, objs, base, req)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return buildCommit(objs, tree, []plumbing.Hash{base.Hash}, meta)
	})
}

// RevertTree computes the tree a revert of req.Commit on top of head would
// produce, without committing or pushing (for previews and tests). It returns
// the same sentinels and errors as Revert.
func (r *Repo) RevertTree(ctx context.Context, head plumbing.Hash, req RevertRequest) (plumbing.Hash, error) {
	release, err := r.begin(ctx)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer release()
	objs := newObjectSet(r)
	hc, err := objs.commit(head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revert %s: read head: %w", req.Commit, err)
	}
	tree, _, err := r.revertTree(ctx, objs, hc, req)
	return tree, err
}

func (r *Repo) revertTree(ctx context.Context, objs *objectSet, head *CommitInfo, req RevertRequest) (plumbing.Hash, CommitMeta, error) {
	sha := req.Commit.String()
	if !objs.has(req.Commit) {
		if err := r.fetchCommit(ctx, req.Commit, 2); err != nil {
			return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w: %w", sha, ErrNotFound, err)
		}
	}
	c, err := objs.commit(req.Commit)
	if err != nil {
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w", sha, err)
	}
	var parent plumbing.Hash
	switch n := len(c.Parents); {
	case n == 0:
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w", sha, ErrRootCommit)
	case n == 1 && req.Mainline > 1, n > 1 && (req.Mainline < 1 || req.Mainline > n):
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w: commit has %d parent(s), mainline %d", sha, ErrBadMainline, n, req.Mainline)
	case n == 1:
		parent = c.Parents[0]
	default:
		parent = c.Parents[req.Mainline-1]
	}
	if !objs.has(parent) {
		if err := r.fetchCommit(ctx, parent, 1); err != nil {
			return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: fetch parent: %w", sha, err)
		}
	}
	pc, err := objs.commit(parent)
	if err != nil {
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: read parent: %w", sha, err)
	}
	m := newOrtMerge(objs, head.Tree)
	tree, err := m.run(c.Tree, head.Tree, pc.Tree)
	if err != nil {
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: merge: %w", sha, err)
	}
	if conflicts := m.report(); len(conflicts) > 0 {
		return plumbing.ZeroHash, CommitMeta{}, &ConflictError{Commit: sha, Conflicts: conflicts}
	}
	if tree.IsZero() {
		tree = objs.put(plumbing.TreeObject, nil)
	}
	if req.Also != nil && tree != head.Tree {
		ed := newTreeEditor(objs, tree)
		if err := req.Also(ed); err != nil {
			return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: extra edit: %w", sha, err)
		}
		if tree, err = ed.Write(); err != nil {
			return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: write tree: %w", sha, err)
		}
	}
	if tree == head.Tree {
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w", sha, ErrAlreadyReverted)
	}
	msg := "Revert \"" + subjectOf(c.Message) + "\"\n\nThis reverts commit " + sha
	if len(c.Parents) > 1 {
		msg += fmt.Sprintf(", reversing\nchanges made to %s", parent)
	}
	msg += ".\n"
	meta := CommitMeta{
		Message:   msg,
		Trailers:  req.Trailers,
		Author:    req.Author,
		Committer: req.Committer,
		When:      req.When,
	}
	if err := meta.validate(); err != nil {
		return plumbing.ZeroHash, CommitMeta{}, fmt.Errorf("revert %s: %w", sha, err)
	}
	return tree, meta, nil
}

// subjectOf is git's commit subject: the first paragraph joined into a line.
func subjectOf(msg string) string {
	para, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n\n")
	return strings.Join(strings.Fields(strings.ReplaceAll(para, "\n", " ")), " ")
}

// RevertOutcome is what RevertAll did with one request: Commit is its revert
// (on the pushed branch), or Err says why it was left out, with the same
// sentinels and errors as Revert (ErrAlreadyReverted, *ConflictError, a
// wrapped ErrNotFound, ...).
type RevertOutcome struct {
	Commit plumbing.Hash
	Err    error
}

// errNoReverts stops land when no request of a batch made a commit.
var errNoReverts = errors.New("no revert to push")

// RevertAll writes the reverts of reqs one on top of the other, in order,
// on the base branch's tip, and pushes them to target in one push: a burst
// of failures costs one round trip to the server, and each revert keeps its
// own commit, message and trailers. A request whose revert cannot be
// written is left out with its error in its RevertOutcome and the others go
// on (a later request sees the earlier ones' reverts, so reverting the same
// commit twice gives ErrAlreadyReverted the second time). On a lost race
// the whole chain is rebuilt on the new tip, as Revert does.
//
// The outcomes are in reqs' order. An error means nothing was pushed;
// Result is nil when no request made a commit.
func (r *Repo) RevertAll(ctx context.Context, target Target, reqs []RevertRequest) (*Result, []RevertOutcome, error) {
	outs := make([]RevertOutcome, len(reqs))
	res, err := r.land(ctx, target, func(ctx context.Context, objs *objectSet, base *CommitInfo) (plumbing.Hash, error) {
		head := base
		for i, req := range reqs {
			if err := req.Author.validate(); err != nil {
				outs[i] = RevertOutcome{Err: fmt.Errorf("revert %s: author: %w", req.Commit, err)}
				continue
			}
			outs[i] = RevertOutcome{}
			tree, meta, err := r.revertTree(ctx, objs, head, req)
			if ctx.Err() != nil {
				return plumbing.ZeroHash, ctx.Err()
			}
			if err != nil {
				outs[i].Err = err
				continue
			}
			h, err := buildCommit(objs, tree, []plumbing.Hash{head.Hash}, meta)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if head, err = objs.commit(h); err != nil {
				return plumbing.ZeroHash, err
			}
			outs[i].Commit = h
		}
		if head == base {
			return plumbing.ZeroHash, errNoReverts
		}
		return head.Hash, nil
	})
	switch {
	case errors.Is(err, errNoReverts):
		return nil, outs, nil
	case err != nil:
		for i := range outs {
			outs[i].Commit = plumbing.ZeroHash
		}
		return nil, outs, err
	}
	return res, outs, nil
}
