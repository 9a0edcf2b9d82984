package gitops

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// TreeEditor is an editable in-memory view of a git tree. Paths are slash
// separated and relative to the tree root ("apps/prod/kustomization.yaml").
// Subtrees are loaded on first use; Write stores only the subtrees on changed
// paths and the new blobs. A TreeEditor is not safe for concurrent use.
type TreeEditor struct {
	objs *objectSet
	root *dirNode
}

type dirNode struct {
	hash    plumbing.Hash // the stored tree this node was loaded from
	loaded  bool
	dirty   bool
	entries map[string]*node
}

type node struct {
	mode filemode.FileMode
	hash plumbing.Hash // valid unless dir is dirty
	dir  *dirNode      // set for trees once loaded
}

func newTreeEditor(objs *objectSet, root plumbing.Hash) *TreeEditor {
	return &TreeEditor{objs: objs, root: &dirNode{hash: root, loaded: root.IsZero(), entries: map[string]*node{}}}
}

func (t *TreeEditor) load(d *dirNode) error {
	if d.loaded {
		return nil
	}
	ents, err := t.objs.tree(d.hash)
	if err != nil {
		return err
	}
	d.entries = make(map[string]*node, len(ents))
	for _, e := range ents {
		d.entries[e.name] = &node{mode: e.mode, hash: e.hash}
	}
	d.loaded = true
	return nil
}

func (t *TreeEditor) subdir(n *node) (*dirNode, error) {
	if n.dir == nil {
		n.dir = &dirNode{hash: n.hash}
	}
	return n.dir, t.load(n.dir)
}

func splitPath(p string) ([]string, error) {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || path.Clean(p) != p {
		return nil, fmt.Errorf("bad path %q: %w", p, fs.ErrInvalid)
	}
	parts := strings.Split(p, "/")
	for _, s := range parts {
		if s == "." || s == ".." || s == ".git" {
			return nil, fmt.Errorf("bad path %q: %w", p, fs.ErrInvalid)
		}
	}
	return parts, nil
}

// lookup walks to the node at p; it returns nil if p does not exist.
func (t *TreeEditor) lookup(p string) (*node, error) {
	parts, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	d := t.root
	if err := t.load(d); err != nil {
		return nil, err
	}
	for i, name := range parts {
		n := d.entries[name]
		if n == nil || i == len(parts)-1 {
			return n, nil
		}
		if n.mode != filemode.Dir {
			return nil, nil
		}
		if d, err = t.subdir(n); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// Stat returns the mode of the file or directory at p, or an error wrapping
// fs.ErrNotExist.
func (t *TreeEditor) Stat(p string) (filemode.FileMode, error) {
	n, err := t.lookup(p)
	if err != nil {
		return 0, err
	}
	if n == nil {
		return 0, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return n.mode, nil
}

// ReadFile returns the content of the file (or symlink target) at p. A
// missing path gives an error wrapping fs.ErrNotExist.
func (t *TreeEditor) ReadFile(p string) ([]byte, error) {
	n, err := t.lookup(p)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	if n.mode == filemode.Dir || n.mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("not a file (mode %o)", n.mode)}
	}
	return t.objs.blob(n.hash)
}

// WriteFile creates or replaces the file at p. An existing file keeps its
// mode (executable stays executable); a new file is a regular file. Missing
// parent directories are created; a file in the way of one is an error.
func (t *TreeEditor) WriteFile(p string, data []byte) error {
	mode := filemode.Regular
	if n, err := t.lookup(p); err == nil && n != nil && (n.mode == filemode.Executable || n.mode == filemode.Regular) {
		mode = n.mode
	}
	return t.WriteFileMode(p, data, mode)
}

// WriteFileMode writes the file at p with an explicit mode (regular,
// executable or symlink).
func (t *TreeEditor) WriteFileMode(p string, data []byte, mode filemode.FileMode) error {
	if mode != filemode.Regular && mode != filemode.Executable && mode != filemode.Symlink {
		return fmt.Errorf("write %s: unsupported mode %o", p, mode)
	}
	if err := t.setEntry(p, mode, plumbing.ComputeHash(plumbing.BlobObject, data)); err != nil {
		return err
	}
	t.objs.putBlob(data)
	return nil
}

// setEntry places (mode, hash) at p, creating parents; a zero hash removes.
func (t *TreeEditor) setEntry(p string, mode filemode.FileMode, h plumbing.Hash) error {
	parts, err := splitPath(p)
	if err != nil {
		return err
	}
	d := t.root
	if err := t.load(d); err != nil {
		return err
	}
	trail := []*dirNode{d}
	for _, name := range parts[:len(parts)-1] {
		n := d.entries[name]
		if n == nil {
			if h.IsZero() {
				return nil
			}
			n = &node{mode: filemode.Dir, dir: &dirNode{loaded: true, entries: map[string]*node{}}}
			d.entries[name] = n
		} else if n.mode != filemode.Dir {
			if h.IsZero() {
				return nil
			}
			return &fs.PathError{Op: "write", Path: p, Err: fmt.Errorf("%s is not a directory", name)}
		}
		if d, err = t.subdir(n); err != nil {
			return err
		}
		trail = append(trail, d)
	}
	last := parts[len(parts)-1]
	if h.IsZero() {
		if d.entries[last] == nil {
			return nil
		}
		delete(d.entries, last)
	} else {
		if old := d.entries[last]; old != nil && old.mode == filemode.Dir && mode != filemode.Dir {
			return &fs.PathError{Op: "write", Path: p, Err: fmt.Errorf("is a directory")}
		}
		d.entries[last] = &node{mode: mode, hash: h}
	}
	for _, dn := range trail {
		dn.dirty = true
	}
	return nil
}

// Remove deletes the file or the whole directory at p. Removing a missing
// path is an error wrapping fs.ErrNotExist. Directories left empty vanish,
// as git cannot store them.
func (t *TreeEditor) Remove(p string) error {
	n, err := t.lookup(p)
	if err != nil {
		return err
	}
	if n == nil {
		return &fs.PathError{Op: "remove", Path: p, Err: fs.ErrNotExist}
	}
	return t.setEntry(p, 0, plumbing.ZeroHash)
}

// List returns the paths of all files (and symlinks) under dir,
// recursively, relative to dir and sorted (overlay.Reader's contract). dir
// "" or "." lists the whole tree; a missing dir, or a dir that is a file,
// gives an error wrapping fs.ErrNotExist.
func (t *TreeEditor) List(dir string) ([]string, error) {
	d := t.root
	if dir == "" || dir == "." {
		if err := t.load(d); err != nil {
			return nil, err
		}
	} else {
		n, err := t.lookup(dir)
		if err != nil {
			return nil, err
		}
		if n == nil || n.mode != filemode.Dir {
			return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrNotExist}
		}
		if d, err = t.subdir(n); err != nil {
			return nil, err
		}
	}
	var out []string
	if err := t.walk(d, "", &out); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func (t *TreeEditor) walk(d *dirNode, prefix string, out *[]string) error {
	for name, n := range d.entries {
		if n.mode != filemode.Dir {
			*out = append(*out, prefix+name)
			continue
		}
		sub, err := t.subdir(n)
		if err != nil {
			return err
		}
		if err := t.walk(sub, prefix+name+"/", out); err != nil {
			return err
		}
	}
	return nil
}

// Write stores the edited tree and returns its hash. Unchanged subtrees are
// reused by hash; only dirty ones are encoded.
func (t *TreeEditor) Write() (plumbing.Hash, error) {
	return t.writeDir(t.root)
}

func (t *TreeEditor) writeDir(d *dirNode) (plumbing.Hash, error) {
	if !d.dirty {
		return d.hash, nil
	}
	ents := make([]entry, 0, len(d.entries))
	for name, n := range d.entries {
		h := n.hash
		if n.mode == filemode.Dir && n.dir != nil && n.dir.dirty {
			var err error
			if h, err = t.writeDir(n.dir); err != nil {
				return plumbing.ZeroHash, err
			}
			n.hash = h
		}
		if n.mode == filemode.Dir && h == emptyTreeHash {
			continue // git does not store empty directories
		}
		ents = append(ents, entry{name: name, mode: n.mode, hash: h})
	}
	h := t.objs.put(plumbing.TreeObject, encodeTree(ents))
	d.hash, d.dirty = h, false
	return h, nil
}

// emptyTreeHash is the hash of the tree with no entries.
var emptyTreeHash = plumbing.ComputeHash(plumbing.TreeObject, nil)
