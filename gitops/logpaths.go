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
// end at a node, kids its children, index their positions by name.
type pathTrie struct {
	index map[string]int
	names []string // by position, as kids
	kids  []*pathTrie
	ends  []int
}

func (t *pathTrie) add(parts []string, i int) {
	for _, name := range parts {
		if t.index == nil {
			t.index = map[string]int{}
		}
		k, ok := t.index[name]
		if !ok {
			k = len(t.kids)
			t.index[name] = k
			t.names = append(t.names, name)
			t.kids = append(t.kids, &pathTrie{})
		}
		t = t.kids[k]
	}
	t.ends = append(t.ends, i)
}

// treeMemo keeps what was read of the trees of the current commit and of
// its parent: in a first-parent walk, a commit's parent is the next commit,
// so each tree is read once. It reads a tree in one pass over the raw
// object, picking out the entries the trie names, without decoding the
// others: a batch of failures names a handful of overlays among hundreds
// of apps.
type treeMemo struct {
	objs      *objectSet
	cur, prev map[memoKey][]version
}

// fewNames is how many names of a tree the walk compares with each entry
// directly rather than through the trie's index.
const fewNames = 8

type memoKey struct {
	tree plumbing.Hash
	node *pathTrie
}

// next moves the walk to the parent: what was read for it is kept.
func (m *treeMemo) next() {
	m.prev, m.cur = m.cur, m.prev
	clear(m.cur)
}

// kids returns the versions in tree v of t's children, by position (zero:
// absent); nil when v is not a tree.
func (m *treeMemo) kids(v version, t *pathTrie) ([]version, error) {
	if v.hash.IsZero() || v.mode != filemode.Dir || v.hash == emptyTreeHash {
		return nil, nil
	}
	if m.cur == nil {
		m.cur, m.prev = map[memoKey][]version{}, map[memoKey][]version{}
	}
	k := memoKey{v.hash, t}
	if out, ok := m.cur[k]; ok {
		return out, nil
	}
	out, ok := m.prev[k]
	if !ok {
		out = make([]version, len(t.kids))
		err := m.objs.view(v.hash, func(typ plumbing.ObjectType, b []byte) error {
			if typ != plumbing.TreeObject {
				return fmt.Errorf("object %s is a %s, not a tree", v.hash, typ)
			}
			left := len(t.kids)
			if err := scanTree(b, func(name []byte, mode filemode.FileMode, h plumbing.Hash) bool {
				i := -1
				if len(t.names) <= fewNames { // comparing a few names beats hashing each entry's
					for k, n := range t.names {
						if n == string(name) {
							i = k
							break
						}
					}
				} else if k, ok := t.index[string(name)]; ok {
					i = k
				}
				if i >= 0 && out[i].hash.IsZero() {
					out[i] = version{hash: h, mode: mode}
					left--
				}
				return left > 0
			}); err != nil {
				return fmt.Errorf("tree %s: %w", v.hash, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	m.cur[k] = out
	return out, nil
}

// diff appends to out the paths under t that differ between a and b
// (zero: absent; a blob has no entries below it), descending only where
// both the trie and the trees differ.
func (m *treeMemo) diff(t *pathTrie, a, b version, out *[]int) error {
	if a == b {
		return nil
	}
	*out = append(*out, t.ends...)
	if len(t.kids) == 0 {
		return nil
	}
	ka, err := m.kids(a, t)
	if err != nil {
		return err
	}
	kb, err := m.kids(b, t)
	if err != nil {
		return err
	}
	for i, kid := range t.kids {
		var va, vb version
		if ka != nil {
			va = ka[i]
		}
		if kb != nil {
			vb = kb[i]
		}
		if err := m.diff(kid, va, vb, out); err != nil {
			return err
		}
	}
	return nil
}
