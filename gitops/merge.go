package gitops

import (
	"bytes"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/ensignbot/ensign/gitops/textmerge"
)

// treeMerger does git's three-way tree merge for a revert or cherry-pick:
// paths unchanged on one side take the other side's version, and only paths
// changed on both sides are merged entry by entry. It never writes conflict
// markers; conflicts are collected instead.
type treeMerger struct {
	objs      *objectSet
	conflicts []Conflict
}

// mergeTrees merges the changes base→ours and base→theirs. A zero hash is an
// absent tree. It returns the merged tree's hash (zero if it is empty).
func (m *treeMerger) mergeTrees(dir string, base, ours, theirs plumbing.Hash) (plumbing.Hash, error) {
	switch {
	case ours == theirs, base == theirs:
		return ours, nil
	case base == ours:
		return theirs, nil
	}
	bs, err := m.entries(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	os, err := m.entries(ours)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ts, err := m.entries(theirs)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	names := map[string]bool{}
	for _, set := range []map[string]entry{bs, os, ts} {
		for n := range set {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []entry
	for _, name := range sorted {
		e, err := m.mergeEntry(dir+name, get(bs, name), get(os, name), get(ts, name))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if e != nil {
			e.name = name
			out = append(out, *e)
		}
	}
	if len(out) == 0 {
		return plumbing.ZeroHash, nil
	}
	return m.objs.put(plumbing.TreeObject, encodeTree(out)), nil
}

func (m *treeMerger) entries(h plumbing.Hash) (map[string]entry, error) {
	ents, err := m.objs.tree(h)
	if err != nil {
		return nil, err
	}
	out := make(map[string]entry, len(ents))
	for _, e := range ents {
		out[e.name] = e
	}
	return out, nil
}

func get(set map[string]entry, name string) *entry {
	if e, ok := set[name]; ok {
		return &e
	}
	return nil
}

func same(a, b *entry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.mode == b.mode && a.hash == b.hash
}

func (m *treeMerger) conflict(path string, kind ConflictKind) (*entry, error) {
	m.conflicts = append(m.conflicts, Conflict{Path: path, Kind: kind})
	return nil, nil
}

// mergeEntry merges one path; nil means the path is absent in the result.
// Like merge-ort, a path that is a file in some trees and a directory in
// others is merged as two independent parts: the directory part (its
// contents, path by path) and the file part. Only when both survive does the
// file clash with the directory; git then keeps the directory and parks the
// file beside it, so the conflict is reported on the path itself, next to
// any conflicts inside the directory.
func (m *treeMerger) mergeEntry(path string, b, o, t *entry) (*entry, error) {
	switch {
	case same(o, t), same(b, t):
		return o, nil
	case same(b, o):
		return t, nil
	}
	db, dobj, dt := treePart(b), treePart(o), treePart(t)
	fb, fo, ft := filePart(b), filePart(o), filePart(t)
	var dir *entry
	if db != nil || dobj != nil || dt != nil {
		h, err := m.mergeTrees(path+"/", hashOf(db), hashOf(dobj), hashOf(dt))
		if err != nil {
			return nil, err
		}
		if !h.IsZero() {
			dir = &entry{mode: filemode.Dir, hash: h}
		}
	}
	if fb == nil && fo == nil && ft == nil {
		return dir, nil
	}
	before := len(m.conflicts)
	file, err := m.mergeFile(path, fb, fo, ft)
	if err != nil || dir == nil {
		return file, err
	}
	if file != nil && len(m.conflicts) == before {
		return m.conflict(path, ConflictFileDirectory)
	}
	return dir, nil
}

func treePart(e *entry) *entry {
	if e != nil && e.isTree() {
		return e
	}
	return nil
}

func filePart(e *entry) *entry {
	if e != nil && !e.isTree() {
		return e
	}
	return nil
}

// mergeFile merges the file parts of one path (no entry is a tree). A
// conflict is recorded and, as in git, still leaves a file at the path; the
// returned entry is then a placeholder (ours, or theirs where ours is gone).
func (m *treeMerger) mergeFile(path string, b, o, t *entry) (*entry, error) {
	switch {
	case same(o, t), same(b, t):
		return o, nil
	case same(b, o):
		return t, nil
	}
	left := o
	if left == nil {
		left = t
	}
	switch {
	case b == nil:
		return left, m.record(path, ConflictAddAdd)
	case o == nil || t == nil:
		return left, m.record(path, ConflictModifyDelete)
	}
	// Changed on both sides. Types must agree before content can merge.
	if class(o.mode) != class(t.mode) {
		return left, m.record(path, typeConflictKind(b, o, t))
	}
	mode, modeOK := mergeMode(b.mode, o.mode, t.mode)
	hash := o.hash
	switch {
	case o.hash == t.hash, b.hash == t.hash:
	case b.hash == o.hash:
		hash = t.hash
	default:
		if kind := class(o.mode); kind != filemode.Regular {
			return left, m.record(path, typeConflictKind(b, o, t))
		}
		merged, kind, err := m.mergeText(path, b.hash, o.hash, t.hash)
		if err != nil {
			return nil, err
		}
		if kind != "" {
			return left, m.record(path, kind)
		}
		hash = m.objs.putBlob(merged)
	}
	if !modeOK {
		return left, m.record(path, ConflictMode)
	}
	return &entry{mode: mode, hash: hash}, nil
}

func (m *treeMerger) record(path string, kind ConflictKind) error {
	m.conflicts = append(m.conflicts, Conflict{Path: path, Kind: kind})
	return nil
}

func (m *treeMerger) mergeText(path string, b, o, t plumbing.Hash) ([]byte, ConflictKind, error) {
	var blobs [3][]byte
	for i, h := range []plumbing.Hash{b, o, t} {
		data, err := m.objs.blob(h)
		if err != nil {
			return nil, "", err
		}
		if isBinary(data) {
			return nil, ConflictBinary, nil
		}
		blobs[i] = data
	}
	res := textmerge.Merge(blobs[0], blobs[1], blobs[2])
	if res.Conflicts > 0 {
		return nil, ConflictContent, nil
	}
	return res.Merged, "", nil
}

// isBinary is git's buffer_is_binary: a NUL byte in the first 8000 bytes.
func isBinary(b []byte) bool {
	if len(b) > 8000 {
		b = b[:8000]
	}
	return bytes.IndexByte(b, 0) >= 0
}

func hashOf(e *entry) plumbing.Hash {
	if e == nil {
		return plumbing.ZeroHash
	}
	return e.hash
}

// class folds the two regular-file modes together.
func class(m filemode.FileMode) filemode.FileMode {
	if m == filemode.Executable || m == filemode.Deprecated {
		return filemode.Regular
	}
	return m
}

func typeConflictKind(b, o, t *entry) ConflictKind {
	for _, e := range []*entry{b, o, t} {
		if e.mode == filemode.Submodule {
			return ConflictSubmodule
		}
	}
	return ConflictSymlink
}

func mergeMode(b, o, t filemode.FileMode) (filemode.FileMode, bool) {
	switch {
	case o == t, b == t:
		return o, true
	case b == o:
		return t, true
	}
	return o, false
}
