package gitops

import (
	"sort"
	"strings"
)

// run does the matching steps of diffcore_rename_extended (no copies, no
// break detection).
func (d *renameDetector) run() {
	renamed := d.exact()
	// Sources consumed by exact renames are gone; the rest, relevant or
	// not, still count when deciding whether a base name is unique.
	d.cull(false)
	d.initDirRenameInfo()
	minBasename := defaultRenameScore + (maxScore-defaultRenameScore)/2
	renamed += d.basenames(minBasename)
	d.cull(true)
	d.earlyKnownDirRenames()

	left := len(d.dsts) - renamed
	if left == 0 || len(d.srcs) == 0 {
		return
	}
	if d.limit > 0 && left*len(d.srcs) > d.limit*d.limit {
		return
	}
	d.matrix(left)
}

// exact pairs each destination with an identical unused source,
// preferring one with the same base name, else the first in order.
func (d *renameDetector) exact() int {
	byHash := map[[20]byte][]int{}
	for i, s := range d.srcs {
		h := s.one.hash
		byHash[h] = append(byHash[h], i)
	}
	n := 0
	for di, dst := range d.dsts {
		target := dst.two
		best, bestScore, tries := -1, -1, 100
		for _, si := range byHash[target.hash] {
			src := d.srcs[si]
			if (!isRegular(src.one.mode) || !isRegular(target.mode)) && src.one.mode != target.mode {
				continue
			}
			if src.used {
				continue
			}
			score := 1
			if basenameSame(src.one.path, target.path) {
				score++
			}
			if score > bestScore {
				best, bestScore = si, score
				if score == 2 {
					break
				}
			}
			if tries--; tries == 0 {
				break
			}
		}
		if best >= 0 {
			d.record(di, best)
			n++
		}
	}
	return n
}

func (d *renameDetector) record(di, si int) {
	src, dst := d.srcs[si], d.dsts[di]
	src.used = true
	dst.one = src.one
	dst.status = 'R'
}

// cull drops used sources and, when relevantOnly, sources the merge does
// not need (remove_unneeded_paths_from_src).
func (d *renameDetector) cull(relevantOnly bool) {
	kept := d.srcs[:0]
	for _, s := range d.srcs {
		if s.used {
			continue
		}
		if _, ok := d.relevant[s.one.path]; relevantOnly && !ok {
			continue
		}
		kept = append(kept, s)
	}
	d.srcs = kept
}

// basenameSame reports whether two paths end in the same file name.
func basenameSame(a, b string) bool {
	return baseName(a) == baseName(b)
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func dirName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// initDirRenameInfo counts the directory renames implied by the exact
// renames and guesses, for each old directory, its most likely new one.
func (d *renameDetector) initDirRenameInfo() {
	d.setup = true
	d.idxMap = map[string]int{}
	for i, dst := range d.dsts {
		if dst.status != 'R' {
			d.idxMap[dst.two.path] = i
			continue
		}
		d.countDirRename(dst.one.path, dst.two.path)
	}
	d.guess = map[string]string{}
	for old, c := range d.counts {
		best, highest := "", 0
		for _, k := range gitHashOrder(c.set.keys) {
			if n := c.n[k]; n > highest {
				best, highest = k, n
			}
		}
		d.guess[old] = best
	}
}

// possibleRename is idx_possible_rename: the unpaired destination at the
// source's base name inside the directory its directory probably went to.
func (d *renameDetector) possibleRename(src string) int {
	newDir, ok := d.guess[dirName(src)]
	if !ok {
		return -1
	}
	if i, ok := d.idxMap[newDir+"/"+baseName(src)]; ok {
		return i
	}
	return -1
}

// basenames pairs relevant sources with destinations of the same base name
// when the name is unique on both sides (or the directory guess points at
// one) and the files are similar enough.
func (d *renameDetector) basenames(minScore int) int {
	sources, dests := map[string]int{}, map[string]int{}
	for i, s := range d.srcs {
		b := baseName(s.one.path)
		if _, dup := sources[b]; dup {
			sources[b] = -1
		} else {
			sources[b] = i
		}
	}
	for i, dst := range d.dsts {
		if dst.status == 'R' {
			continue
		}
		b := baseName(dst.two.path)
		if _, dup := dests[b]; dup {
			dests[b] = -1
		} else {
			dests[b] = i
		}
	}
	n := 0
	for i, s := range d.srcs {
		name := s.one.path
		if _, ok := d.relevant[name]; !ok {
			continue
		}
		b := baseName(name)
		di, ok := dests[b]
		if !ok {
			continue
		}
		si := sources[b]
		if si == -1 || di == -1 {
			si, di = i, d.possibleRename(name)
		}
		if di == -1 || d.dsts[di].status == 'R' {
			continue
		}
		one, two := d.srcs[si].one, d.dsts[di].two
		if d.blobs.estimate(one, two, minScore) < minScore {
			continue
		}
		d.record(di, si)
		n++
		d.countDirRename(one.path, two.path)
	}
	return n
}

// earlyKnownDirRenames marks directories whose rename is already decided
// by a majority, and drops sources that were only wanted to decide such a
// directory (handle_early_known_dir_renames).
func (d *renameDetector) earlyKnownDirRenames() {
	for _, s := range d.srcs {
		for dir := dirName(s.one.path); dir != "" && d.dirsRemoved[dir] != dirNotRelevant; dir = dirName(dir) {
			d.increment(dir, unknownDir)
		}
	}
	for dir, c := range d.counts {
		if d.dirsRemoved[dir] == dirForSelf && determinable(c) {
			d.dirsRemoved[dir] = dirForAncestor
		}
	}
	kept := d.srcs[:0]
	for _, s := range d.srcs {
		p := s.one.path
		if d.relevant[p] == srcLocation && !d.neededForDir(p) {
			d.relevant[p] = srcNoMore
			continue
		}
		kept = append(kept, s)
	}
	d.srcs = kept
}

func (d *renameDetector) neededForDir(p string) bool {
	for dir := dirName(p); ; dir = dirName(dir) {
		switch d.dirsRemoved[dir] {
		case dirNotRelevant:
			return false
		case dirForSelf:
			return true
		}
	}
}

// determinable: the leading destination wins even if every unknown went
// to the runner-up.
func determinable(c *countMap) bool {
	first, second, unknown := 0, 0, 0
	for k, n := range c.n {
		switch {
		case k == unknownDir:
			unknown = n
		case n >= first:
			second, first = first, n
		case n >= second:
			second = n
		}
	}
	return first > second+unknown
}

// diffScore is one candidate pairing in the similarity matrix.
type diffScore struct {
	src, dst  int
	score     int
	nameScore int
}

// scoreCompare orders candidates best first (score, then same base name);
// unused slots (dst < 0) sink to the end.
func scoreCompare(a, b diffScore) int {
	switch {
	case a.dst < 0:
		if b.dst >= 0 {
			return 1
		}
		return 0
	case b.dst < 0:
		return -1
	case a.score == b.score:
		return b.nameScore - a.nameScore
	}
	return b.score - a.score
}

const candidatesPerDst = 4

// recordIfBetter keeps the best four candidates of one destination.
func recordIfBetter(m []diffScore, o diffScore) {
	worst := 0
	for i := 1; i < candidatesPerDst; i++ {
		if scoreCompare(m[i], m[worst]) > 0 {
			worst = i
		}
	}
	if scoreCompare(m[worst], o) > 0 {
		m[worst] = o
	}
}

// matrix scores every remaining destination against every remaining source
// and takes the best pairs first.
func (d *renameDetector) matrix(left int) {
	mx := make([]diffScore, 0, left*candidatesPerDst)
	for di, dst := range d.dsts {
		if dst.status == 'R' {
			continue
		}
		m := make([]diffScore, candidatesPerDst)
		for j := range m {
			m[j].dst = -1
		}
		for si, s := range d.srcs {
			one, two := s.one, dst.two
			cand := diffScore{src: si, dst: di, score: d.blobs.estimate(one, two, defaultRenameScore)}
			if basenameSame(one.path, two.path) {
				cand.nameScore = 1
			}
			recordIfBetter(m, cand)
		}
		mx = append(mx, m...)
	}
	sort.SliceStable(mx, func(i, j int) bool { return scoreCompare(mx[i], mx[j]) < 0 })
	for _, c := range mx {
		if c.dst < 0 || c.score < defaultRenameScore {
			break
		}
		if d.dsts[c.dst].status == 'R' || d.srcs[c.src].used {
			continue
		}
		d.record(c.dst, c.src)
		d.countDirRename(d.srcs[c.src].one.path, d.dsts[c.dst].two.path)
	}
}
