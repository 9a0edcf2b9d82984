package gitops

import (
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// run merges base→ours and base→theirs and returns the merged tree (zero
// when it is empty). Conflicts are collected in m.conflicts; the tree is
// only meaningful when there are none.
func (m *ortMerge) run(base, ours, theirs plumbing.Hash) (plumbing.Hash, error) {
	switch {
	case ours == theirs, base == theirs:
		return ours, nil
	case base == ours:
		return theirs, nil
	}
	for i, h := range [3]plumbing.Hash{base, ours, theirs} {
		m.roots[i] = version{mode: filemode.Dir, hash: h}
	}
	if err := m.walkDir("", [3]plumbing.Hash{base, ours, theirs}); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := m.handleDeferred(); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := m.detectRenames(); err != nil {
		return plumbing.ZeroHash, err
	}
	return m.writeDir("")
}

// writeDir resolves every recorded entry of dir and writes its tree.
func (m *ortMerge) writeDir(dir string) (plumbing.Hash, error) {
	var out []entry
	if c := m.children[dir]; c != nil {
		for _, p := range c.keys {
			mp := m.paths[p]
			if mp == nil || mp.dir != dir {
				continue // moved by a directory rename
			}
			v, err := m.resolvePath(p, mp)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if !v.null() {
				out = append(out, entry{name: baseName(p), mode: v.mode, hash: v.hash})
			}
		}
	}
	if len(out) == 0 {
		return plumbing.ZeroHash, nil
	}
	// Most directories come out as one side had them: then the object
	// exists already and need not be stored (or looked up) again.
	data := encodeTree(out)
	h := plumbing.ComputeHash(plumbing.TreeObject, data)
	for _, v := range m.dirSides(dir) {
		if v == h {
			return h, nil
		}
	}
	return m.objs.put(plumbing.TreeObject, data), nil
}

// dirSides lists the trees the three sides have at dir.
func (m *ortMerge) dirSides(dir string) []plumbing.Hash {
	var vs [3]version
	if dir == "" {
		vs = m.roots
	} else if mp := m.paths[dir]; mp != nil {
		vs = mp.stages
	}
	var out []plumbing.Hash
	for _, v := range vs {
		if v.mode == filemode.Dir {
			out = append(out, v.hash)
		}
	}
	return out
}

func (m *ortMerge) dirVersion(p string) (version, error) {
	h, err := m.writeDir(p)
	if err != nil || h.IsZero() {
		return version{}, err
	}
	return version{mode: filemode.Dir, hash: h}, nil
}

// resolvePath returns what the merged tree holds at p.
func (m *ortMerge) resolvePath(p string, mp *mergePath) (version, error) {
	if !mp.clean {
		return m.processEntry(p, mp)
	}
	if mp.walked {
		return m.dirVersion(p)
	}
	return mp.result, nil
}

// processEntry is merge-ort's process_entry for a path that was not
// resolved early. A path that is a directory on some side has its
// directory part merged first (from its entries); its file part then takes
// the path if the directory came out empty, and otherwise conflicts (git
// parks it beside the directory).
func (m *ortMerge) processEntry(p string, c *mergePath) (version, error) {
	if c.dirmask != 0 {
		dir, err := m.dirVersion(p)
		if err != nil {
			return version{}, err
		}
		c.result = dir
		if c.filemask == 0 {
			return dir, nil
		}
	}
	var atPath *version // set when a surviving directory keeps the path
	switch {
	case c.dfConflict && c.result.mode == 0:
		c.dfConflict = false
		dropDirPart(c)
	case c.dfConflict:
		if c.filemask == 1 {
			c.filemask = 0
			return c.result, nil
		}
		dir := c.result
		atPath = &dir
		moved := *c
		dropDirPart(&moved)
		c.filemask = 0
		c = &moved
	}
	res, clean, kind, err := m.mergeFilePart(p, c)
	if err != nil {
		return version{}, err
	}
	if !clean {
		if kind == "" {
			kind = c.pathKind
		}
		if kind == "" && c.dfConflict {
			kind = ConflictFileDirectory
		}
		m.conflicts = append(m.conflicts, Conflict{Path: p, Kind: kind})
	}
	if atPath != nil {
		return *atPath, nil
	}
	return res, nil
}

// dropDirPart forgets the directory side of a path's record.
func dropDirPart(c *mergePath) {
	c.matchMask &^= c.dirmask
	c.dirmask = 0
	for i := range c.stages {
		if c.filemask&(1<<i) == 0 {
			c.stages[i] = version{}
		}
	}
}

// mergeFilePart resolves the file versions of one path.
func (m *ortMerge) mergeFilePart(p string, c *mergePath) (res version, clean bool, kind ConflictKind, err error) {
	switch {
	case c.matchMask != 0:
		clean = !c.dfConflict && !c.pathConflict
		if c.matchMask == 6 {
			res = c.stages[1]
		} else {
			side := 1
			if 7&^c.matchMask == 4 {
				side = 2
			}
			res = c.stages[side]
			if res.null() {
				clean = true
			}
			if res.null() != (c.filemask == c.matchMask) {
				err = fmt.Errorf("%w: %s has an inconsistent record (git: process_entry assertion)", ErrGitCannotMerge, p)
			}
		}
	case c.filemask >= 6 && class(c.stages[1].mode) != class(c.stages[2].mode):
		res, kind = c.stages[1], typeConflictKind(c.stages)
	case c.filemask >= 6:
		var ok bool
		res, ok, kind, err = m.contentMerge(p, c.stages[0], c.stages[1], c.stages[2])
		if err != nil {
			return version{}, false, "", err
		}
		clean = ok && !c.dfConflict && !c.pathConflict
		if !ok && kind == ConflictContent && c.filemask == 6 {
			kind = ConflictAddAdd
		}
	case c.filemask == 3 || c.filemask == 5:
		side := 1
		if c.filemask == 5 {
			side = 2
		}
		res = c.stages[side]
		kind = ConflictModifyDelete
		if c.pathConflict {
			kind = c.pathKind
		}
	case c.filemask == 2 || c.filemask == 4:
		side := 1
		if c.filemask == 4 {
			side = 2
		}
		res = c.stages[side]
		clean = !c.dfConflict && !c.pathConflict
	case c.filemask == 1:
		clean = !c.pathConflict
	}
	if c.innerKind != "" {
		clean, kind = false, c.innerKind
	}
	return res, clean, kind, err
}

// report returns the conflicts, one per path (an unmerged one rather than
// a report-only one), in path order.
func (m *ortMerge) report() []Conflict {
	at := map[string]int{}
	var out []Conflict
	for _, c := range m.conflicts {
		i, seen := at[c.Path]
		switch {
		case !seen:
			at[c.Path] = len(out)
			out = append(out, c)
		case !out[i].Kind.Unmerged() && c.Kind.Unmerged():
			out[i] = c
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
