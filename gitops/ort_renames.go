package gitops

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// detectRenames is merge-ort's detect_and_process_renames: per-side rename
// detection, directory renames (with git's default "conflict" mode: a path
// moved by the other side's directory rename is reported as a file
// location conflict), and folding the renames into the path records.
func (m *ortMerge) detectRenames() error {
	if !m.mayRename(1) && !m.mayRename(2) {
		return nil
	}
	for s := 1; s <= 2; s++ {
		m.detectSide(s)
		if m.blobs.err != nil {
			return m.blobs.err
		}
	}
	for s := 1; s <= 2; s++ {
		m.provisionalDirRenames(s)
	}
	for dir := range m.dirRenames[1] {
		if _, ok := m.dirRenames[2][dir]; ok {
			delete(m.dirRenames[1], dir)
			delete(m.dirRenames[2], dir)
		}
	}
	var collisions [3]map[string]*collision
	for s := 1; s <= 2; s++ {
		collisions[s] = computeCollisions(m.dirRenames[3-s], m.pairs[s])
	}
	var combined []*filePair
	for s := 1; s <= 2; s++ {
		var err error
		if combined, err = m.collectRenames(combined, s, &collisions); err != nil {
			return err
		}
	}
	sort.SliceStable(combined, func(i, j int) bool { return combined[i].one.path < combined[j].one.path })
	return m.processRenames(combined)
}

// mayRename: side s deleted something the merge needs to follow.
func (m *ortMerge) mayRename(s int) bool {
	return len(m.pairs[s]) > 0 && len(m.relevant[s]) > 0
}

func (m *ortMerge) detectSide(s int) {
	if !m.mayRename(s) {
		for _, p := range m.pairs[s] {
			if !p.one.valid() {
				p.status = 'A'
			} else {
				p.status = 'D'
			}
		}
		return
	}
	d := &renameDetector{
		blobs:       m.blobs,
		relevant:    m.relevant[s],
		dirsRemoved: m.dirsRemoved[s],
		counts:      m.dirRenameCounts[s],
		limit:       m.renameLimit,
	}
	m.pairs[s] = d.detect(m.pairs[s])
}

// provisionalDirRenames turns side s's directory rename counts into
// directory renames: each old directory goes where most of its files went;
// a tie is git's "directory rename split" conflict.
func (m *ortMerge) provisionalDirRenames(s int) {
	for dir, c := range m.dirRenameCounts[s] {
		best, top, tied := "", 0, false
		for k, n := range c.n {
			switch {
			case n > top:
				best, top, tied = k, n, false
			case n == top:
				tied = true
			}
		}
		switch {
		case top == 0:
		case tied:
			m.messageConflict(dir, ConflictDirRenameSplit)
		default:
			m.dirRenames[s][dir] = best
		}
	}
}

func (m *ortMerge) messageConflict(p string, kind ConflictKind) {
	m.conflicts = append(m.conflicts, Conflict{Path: p, Kind: kind})
}

// collision lists the paths that one side's additions or renames would
// land on through the other side's directory renames.
type collision struct {
	sources  []string // sorted
	reported bool
}

// dirRenamed finds the deepest directory above p that was renamed.
func dirRenamed(p string, renames map[string]string) (oldDir, newDir string, ok bool) {
	for d := dirName(p); d != ""; d = dirName(d) {
		if nd, found := renames[d]; found {
			return d, nd, true
		}
	}
	return "", "", false
}

func applyDirRename(oldDir, newDir, p string) string {
	if newDir == "" {
		return p[len(oldDir)+1:]
	}
	return newDir + p[len(oldDir):]
}

func computeCollisions(renames map[string]string, pairs []*filePair) map[string]*collision {
	out := map[string]*collision{}
	if len(renames) == 0 {
		return out
	}
	for _, p := range pairs {
		if p.status != 'A' && p.status != 'R' {
			continue
		}
		oldDir, newDir, ok := dirRenamed(p.two.path, renames)
		if !ok {
			continue
		}
		np := applyDirRename(oldDir, newDir, p.two.path)
		c := out[np]
		if c == nil {
			c = &collision{}
			out[np] = c
		}
		if i, found := slices.BinarySearch(c.sources, p.two.path); !found {
			c.sources = slices.Insert(c.sources, i, p.two.path)
		}
	}
	return out
}

// collectRenames moves side s's additions and renames that land in a
// directory the other side renamed, and returns the renames to process.
func (m *ortMerge) collectRenames(out []*filePair, s int, collisions *[3]map[string]*collision) ([]*filePair, error) {
	for _, p := range m.pairs[s] {
		if p.status != 'A' && p.status != 'R' {
			continue
		}
		np := m.dirRenameTarget(p.two.path, s, collisions)
		if p.status != 'R' && np == "" {
			continue
		}
		if np != "" {
			if err := m.moveToRenamedDir(p, np); err != nil {
				return nil, err
			}
		}
		p.side = s
		out = append(out, p)
	}
	return out, nil
}

// dirRenameTarget is check_for_directory_rename: where the other side's
// directory renames put path, or "" to leave it.
func (m *ortMerge) dirRenameTarget(p string, s int, collisions *[3]map[string]*collision) string {
	renames, exclusions := m.dirRenames[3-s], m.dirRenames[s]
	if len(renames) == 0 {
		return ""
	}
	if _, ok := collisions[3-s][p]; ok {
		return ""
	}
	oldDir, newDir, ok := dirRenamed(p, renames)
	if !ok {
		return ""
	}
	if _, ok := exclusions[newDir]; ok {
		// git declines to move a path into a directory this side renamed
		// away itself (and only warns).
		return ""
	}
	np := applyDirRename(oldDir, newDir, p)
	c := collisions[s][np]
	switch {
	case c == nil:
		return np // cannot happen: computeCollisions saw every such path
	case c.reported:
	case m.pathInWay(np, uint8(1)<<s):
		c.reported = true
		m.messageConflict(np, ConflictDirRenameInWay)
	case len(c.sources) > 1:
		c.reported = true
		m.messageConflict(np, ConflictDirRenameCollision)
	default:
		return np
	}
	return ""
}

func (m *ortMerge) pathInWay(p string, sideMask uint8) bool {
	mp := m.paths[p]
	if mp == nil {
		return false
	}
	return mp.clean || sideMask&(mp.filemask|mp.dirmask) != 0
}

// moveToRenamedDir is apply_directory_rename_modifications: the record at
// the pair's path moves to np (creating records for new parent
// directories), and becomes a file location conflict.
func (m *ortMerge) moveToRenamedDir(p *filePair, np string) error {
	oldPath := p.two.path
	ci := m.paths[oldPath]
	if ci == nil || ci.clean || (ci.filemask != 2 && ci.filemask != 4) {
		return fmt.Errorf("%w: %s moved by a directory rename was already resolved", ErrGitCannotMerge, oldPath)
	}
	var missing []string
	parent := ""
	for cur := np; ; {
		if !strings.Contains(cur, "/") {
			break
		}
		d := dirName(cur)
		if _, ok := m.paths[d]; ok {
			parent = d
			break
		}
		missing = append(missing, d)
		cur = d
	}
	for i := len(missing) - 1; i >= 0; i-- {
		m.setPath(missing[i], &mergePath{dir: parent, dirmask: ci.filemask, walked: true})
		parent = missing[i]
	}
	if ci.dirmask == 0 {
		delete(m.paths, oldPath)
	} else {
		// A directory stays at the old path until its entries are done;
		// only the file part moves. (git clears stage 1 here, whichever
		// side the file came from; kept as git does it.)
		moved := *ci
		moved.dirmask = 0
		moved.stages[1] = version{}
		ci.filemask = 0
		ci.clean = true
		for i := range ci.stages {
			if ci.dirmask&(1<<i) == 0 {
				ci.stages[i] = version{}
			}
		}
		ci = &moved
	}
	ci.dir = parent
	if existing := m.paths[np]; existing == nil {
		m.setPath(np, ci)
	} else {
		existing.filemask |= ci.filemask
		if existing.dirmask != 0 {
			existing.dfConflict = true
		}
		i := ci.filemask >> 1
		existing.stages[i] = ci.stages[i]
		ci = existing
	}
	ci.pathConflict = true
	ci.pathKind = ConflictFileLocation
	p.two.path = np
	return nil
}

// processRenames folds each rename into the records of its old and new
// path (process_renames): a normal rename gives the new path all three
// versions; renames of one path to two places on the two sides are a
// rename/rename conflict, a rename of a path the other side deleted a
// rename/delete conflict, and a rename onto a path the other side also
// has is merged with it.
func (m *ortMerge) processRenames(renames []*filePair) error {
	for i := 0; i < len(renames); i++ {
		pair := renames[i]
		oldPath, newPath := pair.one.path, pair.two.path
		oldInfo, newInfo := m.paths[oldPath], m.paths[newPath]
		if oldInfo == nil || oldInfo.clean {
			continue
		}
		if i+1 < len(renames) && renames[i+1].one.path == oldPath {
			if err := m.renameRename(oldPath, newPath, renames[i+1].two.path); err != nil {
				return err
			}
			i++
			continue
		}
		if newInfo == nil || newInfo.clean {
			return fmt.Errorf("%w: rename target %s was already resolved (git: process_renames assertion)", ErrGitCannotMerge, newPath)
		}
		target := pair.side
		other := 3 - target
		oldSideMask := uint8(1) << other
		sourceDeleted := oldInfo.filemask == 1
		collides := newInfo.filemask&oldSideMask != 0
		typeChanged := !sourceDeleted && isRegular(oldInfo.stages[other].mode) != isRegular(newInfo.stages[target].mode)
		if typeChanged && collides {
			collides = false
		}
		if !sourceDeleted && oldInfo.filemask&oldSideMask == 0 {
			return fmt.Errorf("%w: rename source %s is on neither side (git: process_renames assertion)", ErrGitCannotMerge, oldPath)
		}
		switch {
		case collides && !sourceDeleted:
			// rename/add: merge the renamed file with what the rename
			// landed on.
			var names [3]string
			names[0], names[other], names[target] = oldPath, oldPath, newPath
			b, s1, s2 := m.paths[names[0]], m.paths[names[1]], m.paths[names[2]]
			if b == nil || s1 == nil || s2 == nil {
				return fmt.Errorf("%w: no record for the rename of %s to %s", ErrGitCannotMerge, oldPath, newPath)
			}
			merged, clean, _, err := m.contentMerge(oldPath, b.stages[0], s1.stages[1], s2.stages[2])
			if err != nil {
				return err
			}
			newInfo.stages[target] = merged
			if !clean {
				newInfo.innerKind = ConflictContent
			}
		case collides && sourceDeleted:
			setPathConflict(newInfo, ConflictRenameDelete)
		default:
			newInfo.stages[0] = oldInfo.stages[0]
			newInfo.filemask |= 1
			switch {
			case typeChanged:
				oldInfo.stages[0] = version{}
				oldInfo.filemask &= 6
			case sourceDeleted:
				setPathConflict(newInfo, ConflictRenameDelete)
			default:
				newInfo.stages[other] = oldInfo.stages[other]
				newInfo.filemask |= oldSideMask
			}
		}
		if !typeChanged {
			oldInfo.clean, oldInfo.result = true, version{}
		}
	}
	return nil
}

func setPathConflict(mp *mergePath, kind ConflictKind) {
	mp.pathConflict = true
	if mp.pathKind == "" {
		mp.pathKind = kind
	}
}

// renameRename handles one path renamed on both sides: to the same new
// path (fine) or to two different ones (a conflict on all three paths).
func (m *ortMerge) renameRename(oldPath, p1, p2 string) error {
	base, s1, s2 := m.paths[oldPath], m.paths[p1], m.paths[p2]
	if base == nil || s1 == nil || s2 == nil {
		return fmt.Errorf("%w: no record for the renames of %s", ErrGitCannotMerge, oldPath)
	}
	if p1 == p2 {
		s1.stages[0] = base.stages[0]
		s1.filemask |= 1
		base.clean, base.result = true, version{}
		return nil
	}
	merged, clean, _, err := m.contentMerge(oldPath, base.stages[0], s1.stages[1], s2.stages[2])
	if err != nil {
		return err
	}
	wasBinary := !clean && merged == s1.stages[1]
	s1.stages[1] = merged
	if wasBinary {
		merged = s2.stages[2]
	}
	s2.stages[2] = merged
	for _, mp := range []*mergePath{s1, s2, base} {
		setPathConflict(mp, ConflictRenameRename)
	}
	return nil
}
