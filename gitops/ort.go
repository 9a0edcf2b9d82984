package gitops

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// ortMerge is a three-way tree merge with rename detection, organised the
// way git's merge-ort is: collect every path that is not trivially merged
// (walking only the subtrees that need it), detect renames on each side,
// fold the renames into the per-path records, then resolve every path and
// write the trees bottom up. Side 1 is "ours" (the branch tip), side 2
// "theirs" (for a revert, the reverted commit's parent), index 0 the base.
//
// Where git's result depends on the order it visits paths in (ties between
// equally good rename candidates), the same order is used: trees are walked
// depth first in plain name order, deferred directories in git's hash map
// order (gitorder.go).
type ortMerge struct {
	objs  *objectSet
	blobs *blobInfo
	attrs *attrReader
	trees map[plumbing.Hash][]entry

	paths    map[string]*mergePath
	children map[string]*orderedSet
	roots    [3]version // the three top-level trees

	dirRenameMask   uint8
	pairs           [3][]*filePair
	dirsRemoved     [3]map[string]int
	relevant        [3]map[string]int
	deferred        [3]*orderedValues
	trivialOK       [3]bool
	dirRenameCounts [3]map[string]*countMap
	dirRenames      [3]map[string]string
	renameLimit     int

	conflicts []Conflict // in the order found
}

// mergeRenameLimit is the rename limit merges use (git's merge.renameLimit
// default); tests lower it to reach the limit with small histories.
var mergeRenameLimit = defaultRenameLimit

// version is one tree entry's mode and object; mode 0 means absent.
type version struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

func (v version) null() bool { return v.mode == 0 }

// mergePath is what the merge knows about one path (merge-ort's
// merged_info and conflict_info in one).
type mergePath struct {
	dir    string  // containing directory, "" at the top
	clean  bool    // resolved; result holds the outcome
	result version // the outcome once resolved (null: nothing)
	walked bool    // a directory whose entries were collected

	stages       [3]version
	filemask     uint8
	dirmask      uint8
	matchMask    uint8
	dfConflict   bool
	pathConflict bool
	pathKind     ConflictKind // why pathConflict was set
	innerKind    ConflictKind // a content conflict hidden inside a stage
}

// orderedValues maps strings to small values and remembers insertion
// order.
type orderedValues struct {
	set orderedSet
	val map[string]uint8
}

func (o *orderedValues) put(k string, v uint8) {
	if o.val == nil {
		o.val = map[string]uint8{}
	}
	o.set.add(k)
	o.val[k] = v
}

// newOrtMerge prepares a merge that takes .gitattributes from the tree
// attrRoot (for a revert, the branch tip's).
func newOrtMerge(objs *objectSet, attrRoot plumbing.Hash) *ortMerge {
	m := &ortMerge{
		objs:        objs,
		trees:       map[plumbing.Hash][]entry{},
		paths:       map[string]*mergePath{},
		children:    map[string]*orderedSet{},
		renameLimit: mergeRenameLimit,
	}
	m.attrs = newAttrReader(objs, m.tree, attrRoot)
	m.blobs = newBlobInfo(objs, m.attrs.diffBinary)
	for s := 1; s <= 2; s++ {
		m.dirsRemoved[s] = map[string]int{}
		m.relevant[s] = map[string]int{}
		m.deferred[s] = &orderedValues{}
		m.trivialOK[s] = true
		m.dirRenameCounts[s] = map[string]*countMap{}
		m.dirRenames[s] = map[string]string{}
	}
	return m
}

func (m *ortMerge) tree(h plumbing.Hash) ([]entry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if t, ok := m.trees[h]; ok {
		return t, nil
	}
	t, err := m.objs.tree(h)
	if err != nil {
		return nil, err
	}
	m.trees[h] = t
	return t, nil
}

// setPath records info for p, keeping the per-directory child lists.
func (m *ortMerge) setPath(p string, info *mergePath) {
	if _, ok := m.paths[p]; !ok {
		c := m.children[info.dir]
		if c == nil {
			c = &orderedSet{}
			m.children[info.dir] = c
		}
		c.add(p)
	}
	m.paths[p] = info
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// walkDir visits the entries of directory dir in the three trees (a zero
// hash is an absent tree), in plain name order as git's traverse_trees does.
func (m *ortMerge) walkDir(dir string, trees [3]plumbing.Hash) error {
	var lists [3][]entry
	for i, h := range trees {
		t, err := m.tree(h)
		if err != nil {
			return err
		}
		lists[i] = t
	}
	rows := alignEntries(lists)
	if m.dirRenameMask == 2 || m.dirRenameMask == 4 {
		// A file added on the side that kept a directory the other side
		// removed makes directory rename detection relevant for the whole
		// directory, including the entries before that file.
		for _, r := range rows {
			mask, dirmask := r.masks()
			if fm := mask &^ dirmask; fm != 0 && fm == m.dirRenameMask {
				m.dirRenameMask = 7
			}
		}
	}
	for _, r := range rows {
		if err := m.visit(dir, r); err != nil {
			return err
		}
	}
	return nil
}

// row is one name and its entry (or nil) in each of the three trees.
type row struct {
	name string
	e    [3]*entry
}

func (r row) masks() (mask, dirmask uint8) {
	for i, e := range r.e {
		if e != nil {
			mask |= 1 << i
			if e.isTree() {
				dirmask |= 1 << i
			}
		}
	}
	return mask, dirmask
}

// alignEntries lines up three tree listings (each in git's tree order)
// into rows in the order git's traverse_trees visits them: each round takes
// the smallest plain name among the trees' next entries, and a tree whose
// next entry is "a-1" or "a.txt" is searched ahead for a subtree "a" that
// sorts later in tree order but belongs to the same round.
func alignEntries(lists [3][]entry) []row {
	var pos [3]int
	var done [3]map[int]bool
	head := func(i int) int {
		for pos[i] < len(lists[i]) && done[i][pos[i]] {
			pos[i]++
		}
		if pos[i] < len(lists[i]) {
			return pos[i]
		}
		return -1
	}
	var rows []row
	for {
		var h [3]int
		first, have := "", false
		for i := range lists {
			h[i] = head(i)
			if h[i] >= 0 {
				if n := lists[i][h[i]].name; !have || n < first {
					first, have = n, true
				}
			}
		}
		if !have {
			return rows
		}
		r := row{name: first}
		for i := range lists {
			at := findEntry(lists[i], h[i], first)
			if at < 0 {
				continue
			}
			r.e[i] = &lists[i][at]
			if at == h[i] {
				pos[i]++
				continue
			}
			if done[i] == nil {
				done[i] = map[int]bool{}
			}
			done[i][at] = true
		}
		rows = append(rows, r)
	}
}

// findEntry looks for name from position from on, as far as tree order
// allows it to hide (check_entry_match).
func findEntry(l []entry, from int, name string) int {
	if from < 0 {
		return -1
	}
	for j := from; j < len(l); j++ {
		b := l[j].name
		switch {
		case b == name:
			return j
		case name > b:
			continue // name sorts after b
		case len(name) < len(b) && strings.HasPrefix(b, name) && b[len(name)] < '/':
			continue // a subtree called name may follow b
		default:
			return -1
		}
	}
	return -1
}

func sameEntry(a, b *entry) bool {
	return a != nil && b != nil && a.mode == b.mode && a.hash == b.hash
}

func versionOf(e *entry) version {
	if e == nil {
		return version{}
	}
	return version{mode: e.mode, hash: e.hash}
}

// visit is merge-ort's collect_merge_info_callback for one name.
func (m *ortMerge) visit(dir string, r row) error {
	full := joinPath(dir, r.name)
	prevMask := m.dirRenameMask
	mask, dirmask := r.masks()
	filemask := mask &^ dirmask
	s1base := sameEntry(r.e[0], r.e[1])
	s2base := sameEntry(r.e[0], r.e[2])
	sides := sameEntry(r.e[1], r.e[2])
	var matchMask uint8
	switch {
	case s1base && s2base:
		matchMask = 7
	case s1base:
		matchMask = 3
	case s2base:
		matchMask = 5
	case sides:
		matchMask = 6
	}
	resolved := func(e *entry) {
		m.setPath(full, &mergePath{dir: dir, clean: true, result: versionOf(e)})
	}
	switch {
	case s1base && s2base:
		resolved(r.e[0])
		return nil
	case sides && filemask == 7:
		resolved(r.e[1])
		return nil
	case s1base && filemask == 7:
		resolved(r.e[2])
		return nil
	case s2base && filemask == 7:
		resolved(r.e[1])
		return nil
	}
	m.collectRenameInfo(r, dir, full, filemask, dirmask, matchMask)
	info := &mergePath{dir: dir, filemask: filemask, dirmask: dirmask, matchMask: matchMask,
		dfConflict: filemask != 0 && dirmask != 0}
	for i := range r.e {
		info.stages[i] = versionOf(r.e[i])
	}
	m.setPath(full, info)
	if dirmask == 0 {
		return nil
	}
	side := 0
	switch {
	case s1base:
		side = 2
	case s2base:
		side = 1
	}
	if filemask == 0 && (dirmask == 2 || dirmask == 4) {
		info.matchMask = 7 - dirmask
		side = int(dirmask / 2)
	}
	if m.dirRenameMask != 7 && side != 0 && m.trivialOK[side] {
		m.deferred[side].put(full, m.dirRenameMask)
		m.dirRenameMask = prevMask
		return nil
	}
	info.matchMask &= filemask
	err := m.walkInto(full, info)
	m.dirRenameMask = prevMask
	return err
}

func (m *ortMerge) walkInto(p string, info *mergePath) error {
	var trees [3]plumbing.Hash
	for i := range trees {
		if info.dirmask&(1<<i) != 0 {
			trees[i] = info.stages[i].hash
		}
	}
	info.walked = true
	return m.walkDir(p, trees)
}

// collectRenameInfo records, for one name, the directories removed on each
// side, whether directory renames matter here, and the additions and
// deletions that rename detection will pair (collect_rename_info).
func (m *ortMerge) collectRenameInfo(r row, dir, full string, filemask, dirmask, matchMask uint8) {
	if m.dirRenameMask != 7 && (dirmask == 3 || dirmask == 5) {
		m.dirRenameMask = dirmask &^ 1
	}
	if dirmask == 1 || dirmask == 3 || dirmask == 5 {
		sides := (7 - dirmask) / 2
		relevance := dirNotRelevant
		if m.dirRenameMask == 7 {
			relevance = dirForAncestor
		}
		for s := 1; s <= 2; s++ {
			if sides&(1<<(s-1)) != 0 {
				m.dirsRemoved[s][full] = relevance
			}
		}
	}
	if m.dirRenameMask == 7 && (filemask == 2 || filemask == 4) {
		m.dirsRemoved[3-filemask>>1][dir] = dirForSelf
	}
	if filemask == 0 || filemask == 7 {
		return
	}
	for s := 1; s <= 2; s++ {
		sideMask := uint8(1) << s
		switch {
		case filemask&1 != 0 && filemask&sideMask == 0:
			if matchMask&filemask == 0 {
				m.relevant[s][full] = srcContent
			} else if m.dirRenameMask == 7 {
				m.relevant[s][full] = srcLocation
			}
			m.pairs[s] = append(m.pairs[s], &filePair{side: s,
				one: fileVersion{path: full, mode: r.e[0].mode, hash: r.e[0].hash}})
		case filemask&1 == 0 && filemask&sideMask != 0:
			m.pairs[s] = append(m.pairs[s], &filePair{side: s,
				two: fileVersion{path: full, mode: r.e[s].mode, hash: r.e[s].hash}})
		}
	}
}

// handleDeferred walks or trivially resolves the directories that were
// set aside because one side left them as they were in the base
// (handle_deferred_entries). They only need walking on a side where some
// deleted path needs rename detection, since additions inside them could
// be its new name.
func (m *ortMerge) handleDeferred() error {
	for s := 1; s <= 2; s++ {
		ok := len(m.relevant[s]) == 0
		m.trivialOK[s] = ok
		list := m.deferred[s]
		m.deferred[s] = &orderedValues{}
		for _, p := range gitHashOrder(list.set.keys) {
			info := m.paths[p]
			if ok {
				resolveTrivialDir(info, s)
				continue
			}
			info.matchMask &= info.filemask
			m.dirRenameMask = list.val[p]
			if err := m.walkInto(p, info); err != nil {
				return err
			}
		}
		for _, p := range gitHashOrder(m.deferred[s].set.keys) {
			resolveTrivialDir(m.paths[p], s)
		}
	}
	return nil
}

func resolveTrivialDir(info *mergePath, side int) {
	info.result = info.stages[side]
	info.matchMask = 0
	info.clean = true
}
