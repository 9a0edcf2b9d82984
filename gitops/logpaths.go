package gitops

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// LogPaths walks the first-parent history of branch from its last fetched
// tip, newest first, like Log, and calls fn for every commit examined with
// the indexes of the paths it changed (compared with its first parent;
// none for most commits). It reads each commit's trees once for all the
// paths, so the cost of a walk barely grows with their number: a batch of
// failures in many apps' overlays walks the history once, and reads what
// else it needs of each commit (its message) on the way. max bounds the
// commits examined (0: 10000); fn returning ErrStopWalk ends the walk. fn
// may call read methods. Like Log, it does not wait for other operations.
func (r *Repo) LogPaths(ctx context.Context, branch string, paths []string, max int, fn func(c *CommitInfo, changed []int) error) error {
	root := &pathTrie{}
	for i, p := range paths {
		parts, err := splitPath(strings.TrimSuffix(p, "/"))
		if err != nil {
			return fmt.Errorf("log %s: %w", branch, err)
		}
		root.add(parts, i)
	}
	var trees *treeMemo
	var changed []int
	return r.walk(ctx, branch, max, func(objs *objectSet, c, parent *CommitInfo) error {
		if trees == nil {
			trees = &treeMemo{objs: objs}
		}
		var before version
		if parent != nil {
			before = version{hash: parent.Tree, mode: filemode.Dir}
		}
		changed = changed[:0]
		if err := trees.diff(root, version{hash: c.Tree, mode: filemode.Dir}, before, &changed); err != nil {
			return fmt.Errorf("log %s: %w", branch, err)
		}
		trees.next()
		return fn(c, changed)
	})
}

// pathTrie holds the walked paths by component; ends lists the paths that
// end at a node.
type pathTrie struct {
	children map[string]*pathTrie
	ends     []int
}

func (t *pathTrie) add(parts []string, i int) {
	for _, name := range parts {
		if t.children == nil {
			t.children = map[string]*pathTrie{}
		}
		next, ok := t.children[name]
		if !ok {
			next = &pathTrie{}
			t.children[name] = next
		}
		t = next
	}
	t.ends = append(t.ends, i)
}

// treeMemo keeps the trees read for the current commit and its parent: in
// a first-parent walk, a commit's parent is the next commit, so each tree
// is read and parsed once.
type treeMemo struct {
	objs      *objectSet
	cur, prev map[plumbing.Hash][]entry
}

// next moves the walk to the parent: what was read for it is kept.
func (m *treeMemo) next() {
	m.prev, m.cur = m.cur, m.prev
	clear(m.cur)
}

func (m *treeMemo) tree(h plumbing.Hash) ([]entry, error) {
	if m.cur == nil {
		m.cur, m.prev = map[plumbing.Hash][]entry{}, map[plumbing.Hash][]entry{}
	}
	if ents, ok := m.cur[h]; ok {
		return ents, nil
	}
	ents, ok := m.prev[h]
	if !ok {
		var err error
		if ents, err = m.objs.tree(h); err != nil {
			return nil, err
		}
	}
	m.cur[h] = ents
	return ents, nil
}

// diff appends to out the paths under t that differ between a and b
// (zero: absent; a blob has no entries below it), descending only where
// both the trie and the trees differ.
func (m *treeMemo) diff(t *pathTrie, a, b version, out *[]int) error {
	if a == b {
		return nil
	}
	*out = append(*out, t.ends...)
	if len(t.children) == 0 {
		return nil
	}
	ea, err := m.entries(a)
	if err != nil {
		return err
	}
	eb, err := m.entries(b)
	if err != nil {
		return err
	}
	for name, child := range t.children {
		if err := m.diff(child, findVersion(ea, name), findVersion(eb, name), out); err != nil {
			return err
		}
	}
	return nil
}

// entries lists v when it is a tree; a blob or nothing has none.
func (m *treeMemo) entries(v version) ([]entry, error) {
	if v.hash.IsZero() || v.mode != filemode.Dir {
		return nil, nil
	}
	return m.tree(v.hash)
}

// findVersion is the entry called name, or the zero version.
func findVersion(ents []entry, name string) version {
	for _, e := range ents {
		if e.name == name {
			return version{hash: e.hash, mode: e.mode}
		}
	}
	return version{}
}
