package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// ErrStopWalk, returned by a Log callback, ends the walk without error.
var ErrStopWalk = errors.New("stop walk")

// LogOptions filter a first-parent history walk.
type LogOptions struct {
	// Path limits the walk to commits that changed this file or directory
	// (compared with their first parent); "" visits every commit.
	Path string
	// Max bounds the number of commits examined (not reported); 0 means
	// 10000. The walk ends quietly at the bound.
	Max int
}

// Log walks the first-parent history of branch from its last fetched tip,
// newest first, calling fn for each commit that matches opts. History a
// shallow cache lacks is fetched on demand (deepening in growing steps). fn
// may call read methods (Snapshot, Commit, ReadFile) — a reported commit's
// first parent is always present. Walks run alongside each other and
// alongside the other operations; only deepening waits for them.
func (r *Repo) Log(ctx context.Context, branch string, opts LogOptions, fn func(*CommitInfo) error) error {
	return r.log(ctx, branch, opts, fn)
}

func (r *Repo) log(ctx context.Context, branch string, opts LogOptions, fn func(*CommitInfo) error) error {
	var parts []string
	if opts.Path != "" {
		var err error
		if parts, err = splitPath(strings.TrimSuffix(opts.Path, "/")); err != nil {
			return fmt.Errorf("log %s: %w", branch, err)
		}
	}
	// The walk visits each commit twice, as a parent and then as the next
	// commit: its path's hash is looked up once.
	var last struct {
		tree, hash plumbing.Hash
		ok         bool
	}
	lookup := func(objs *objectSet, tree plumbing.Hash) (plumbing.Hash, error) {
		if last.ok && last.tree == tree {
			return last.hash, nil
		}
		h, err := objs.pathHash(tree, parts)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("log %s: %w", branch, err)
		}
		last.tree, last.hash, last.ok = tree, h, true
		return h, nil
	}
	return r.walk(ctx, branch, opts.Max, func(objs *objectSet, c, parent *CommitInfo) error {
		if parts != nil {
			after, err := lookup(objs, c.Tree)
			if err != nil {
				return err
			}
			var before plumbing.Hash
			if parent != nil {
				if before, err = lookup(objs, parent.Tree); err != nil {
					return err
				}
			}
			if before == after {
				return nil
			}
		}
		return fn(c)
	})
}

// walk visits the first-parent history of branch from its last fetched
// tip, newest first, calling visit with each commit and its first parent
// (nil at the root; history a shallow cache lacks is fetched on demand),
// until max commits (0: 10000), the root, or visit returning ErrStopWalk.
// It is the walk of Log and LogPaths. It reads through the storage lock
// only, so walks do not wait for fetches and pushes; deepening is an
// operation (begin).
func (r *Repo) walk(ctx context.Context, branch string, max int, visit func(objs *objectSet, c, parent *CommitInfo) error) error {
	tip, ok, err := r.Tip(branch)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("log %s: %w (fetch it first)", branch, ErrBranchMissing)
	}
	if max <= 0 {
		max = 10000
	}
	objs := newObjectSet(r)
	depth := 0
	c, err := objs.commit(tip)
	if err != nil {
		return fmt.Errorf("log %s: %w", branch, err)
	}
	for n := 1; n <= max; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var parent *CommitInfo
		if len(c.Parents) > 0 {
			if parent, err = r.commitDeepening(ctx, objs, branch, c.Parents[0], n+1, &depth); err != nil {
				return fmt.Errorf("log %s: %w", branch, err)
			}
		}
		if err := visit(objs, c, parent); errors.Is(err, ErrStopWalk) {
			return nil
		} else if err != nil {
			return err
		}
		if parent == nil {
			return nil
		}
		c = parent
	}
	return nil
}

// commitDeepening reads commit h, deepening the shallow cache when it lacks
// it; need is the first-parent distance of h from the tip.
func (r *Repo) commitDeepening(ctx context.Context, objs *objectSet, branch string, h plumbing.Hash, need int, depth *int) (*CommitInfo, error) {
	for {
		c, err := objs.commit(h)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return c, err
		}
		shallow, serr := r.shallows()
		if serr != nil {
			return nil, serr
		}
		if len(shallow) == 0 || *depth >= need*4+256 {
			return nil, fmt.Errorf("commit %s: %w", h, err)
		}
		// Few round trips matter more than a few hundred extra commits.
		next := max(*depth*4, need*2, 256)
		release, err := r.begin(ctx)
		if err != nil {
			return nil, err
		}
		err = r.deepen(ctx, branch, next) // another walk may have deepened meanwhile: harmless
		release()
		if err != nil {
			return nil, err
		}
		*depth = next
	}
}

// pathHash returns the hash of the entry at parts under tree, or zero. It
// looks each name up in the raw tree objects (lookupEntry) rather than
// decoding them.
func (s *objectSet) pathHash(tree plumbing.Hash, parts []string) (plumbing.Hash, error) {
	h := tree
	for i, name := range parts {
		if h.IsZero() || h == emptyTreeHash {
			return plumbing.ZeroHash, nil
		}
		var (
			next  plumbing.Hash
			mode  filemode.FileMode
			found bool
		)
		err := s.view(h, func(t plumbing.ObjectType, b []byte) error {
			if t != plumbing.TreeObject {
				return fmt.Errorf("object %s is a %s, not a tree", h, t)
			}
			var err error
			if next, mode, found, err = lookupEntry(b, name); err != nil {
				return fmt.Errorf("tree %s: %w", h, err)
			}
			return nil
		})
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if !found || i < len(parts)-1 && mode != filemode.Dir {
			return plumbing.ZeroHash, nil // absent, or a file where the path needs a directory
		}
		h = next
	}
	return h, nil
}

// LastChange returns the newest commit on branch's first-parent line that
// changed path, or an error wrapping ErrNotFound.
func (r *Repo) LastChange(ctx context.Context, branch, path string) (*CommitInfo, error) {
	var found *CommitInfo
	err := r.Log(ctx, branch, LogOptions{Path: path}, func(c *CommitInfo) error {
		found = c
		return ErrStopWalk
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("no commit on %s changed %s: %w", branch, path, ErrNotFound)
	}
	return found, nil
}

// FindRevert looks on branch's first-parent line, from the tip back to
// commit, for a commit that reverts commit and was not itself reverted
// later; it returns nil if there is none. reverted says which commits a
// message reverts (full or abbreviated ids, lowercase): what counts as a
// revert is the caller's vocabulary. max bounds the commits examined
// (0: 10000).
func (r *Repo) FindRevert(ctx context.Context, branch string, commit plumbing.Hash, max int, reverted func(msg string) []string) (*CommitInfo, error) {
	target := commit.String()
	var undone []string // ids reverted by commits newer than the walk's position
	isUndone := func(h string) bool {
		for _, id := range undone {
			if strings.HasPrefix(h, id) {
				return true
			}
		}
		return false
	}
	var found *CommitInfo
	err := r.Log(ctx, branch, LogOptions{Max: max}, func(c *CommitInfo) error {
		if c.Hash == commit {
			return ErrStopWalk
		}
		if isUndone(c.Hash.String()) {
			return nil // reverted later: its own reverts no longer hold
		}
		for _, id := range reverted(c.Message) {
			undone = append(undone, id)
			if found == nil && strings.HasPrefix(target, id) {
				found = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}
