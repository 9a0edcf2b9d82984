package gitops

import (
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Rename detection for one side of a merge, as git's diffcore-rename does it
// when merge-ort asks: exact renames first, then files that kept their base
// name (at a higher similarity bar), then the full source × destination
// matrix at git's default 50 %, within git's rename limit. Only sources the
// merge cares about ("relevant sources") go past the exact step, and
// directory renames are counted as pairs are found.

// Relevance of a removed directory for directory rename detection
// (dirs_removed values).
const (
	dirNotRelevant = 0
	dirForAncestor = 1
	dirForSelf     = 2
)

// Relevance of a deleted path as a rename source (relevant_sources values).
const (
	srcNoMore   = 0
	srcContent  = 1
	srcLocation = 2
)

// unknownDir stands for "renamed to somewhere not yet known" in directory
// rename counts; it cannot be a real directory name.
const unknownDir = "/"

// defaultRenameLimit is merge.renameLimit's default: inexact detection is
// skipped when sources × destinations exceeds its square.
const defaultRenameLimit = 7000

// fileVersion is one side's version of a path; mode 0 means absent.
type fileVersion struct {
	path string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (v fileVersion) valid() bool { return v.mode != 0 }

// filePair is an addition, deletion or (once detected) rename on one side.
type filePair struct {
	one, two fileVersion
	status   byte // 'A', 'D' or 'R'
	side     int
	used     bool // a deletion that turned out to be a rename source
}

// emptyBlobHash is the hash of the empty blob; git never pairs empty files.
var emptyBlobHash = plumbing.ComputeHash(plumbing.BlobObject, nil)

func isRegular(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

// blobInfo reads the blobs of one merge (once each, for similarity
// estimates and content merges alike) and caches their chunk counts.
type blobInfo struct {
	objs   *objectSet
	binary func(path string) (forced bool, binary bool) // from attributes
	data   map[plumbing.Hash][]byte
	text   map[fileVersion]bool // whether a version is counted as text
	spans  map[spanKey][]span
	err    error
}

type spanKey struct {
	hash plumbing.Hash
	text bool
}

func newBlobInfo(objs *objectSet, binary func(path string) (forced bool, binary bool)) *blobInfo {
	return &blobInfo{objs: objs, binary: binary, data: map[plumbing.Hash][]byte{},
		text: map[fileVersion]bool{}, spans: map[spanKey][]span{}}
}

// blob returns a blob's content, reading it on first use.
func (b *blobInfo) blob(h plumbing.Hash) ([]byte, error) {
	if d, ok := b.data[h]; ok {
		return d, nil
	}
	d, err := b.objs.blob(h)
	if err != nil {
		return nil, err
	}
	b.data[h] = d
	return d, nil
}

// content is blob for rename detection, which cannot fail midway: the
// first error is kept in b.err (and the content is empty).
func (b *blobInfo) content(h plumbing.Hash) []byte {
	d, err := b.blob(h)
	if err != nil && b.err == nil {
		b.err = err
	}
	return d
}

// counts returns v's chunk counts. Whether v counts as text (content and
// diff attribute) is decided once per version: the similarity matrix asks
// for the same versions over and over.
func (b *blobInfo) counts(v fileVersion) []span {
	text, ok := b.text[v]
	if !ok {
		text = !isBinary(b.content(v.hash))
		if forced, bin := b.binary(v.path); forced {
			text = !bin
		}
		b.text[v] = text
	}
	k := spanKey{v.hash, text}
	if s, ok := b.spans[k]; ok {
		return s
	}
	s := spanCounts(b.content(v.hash), text)
	b.spans[k] = s
	return s
}

// estimate is estimate_similarity: only regular files score above zero.
func (b *blobInfo) estimate(src, dst fileVersion, minScore int) int {
	if !isRegular(src.mode) || !isRegular(dst.mode) {
		return 0
	}
	return similarity(len(b.content(src.hash)), len(b.content(dst.hash)), minScore,
		func() []span { return b.counts(src) }, func() []span { return b.counts(dst) })
}

// renameDetector runs diffcore_rename_extended on one side's pairs.
type renameDetector struct {
	blobs       *blobInfo
	relevant    map[string]int       // relevant_sources; updated (srcNoMore)
	dirsRemoved map[string]int       // dirs_removed; updated (self → ancestor)
	counts      map[string]*countMap // dir_rename_count: old dir → new dirs
	limit       int

	srcs   []*filePair // deletions that may be rename sources
	dsts   []*filePair // additions; status 'R' once paired
	setup  bool
	idxMap map[string]int
	guess  map[string]string
}

// detect pairs deletions with additions in q (in q's order, which decides
// ties as in git) and returns the new queue: additions (renames carry their
// source in one) and the deletions that were not renamed.
func (d *renameDetector) detect(q []*filePair) []*filePair {
	for _, p := range q {
		switch {
		case !p.one.valid():
			if p.two.hash != emptyBlobHash {
				d.dsts = append(d.dsts, p)
			}
		case p.one.hash == emptyBlobHash:
		case !p.two.valid():
			d.srcs = append(d.srcs, p)
		}
	}
	if len(d.dsts) > 0 && len(d.srcs) > 0 {
		d.run()
	}
	d.cleanupCounts()
	out := q[:0:0]
	for _, p := range q {
		switch {
		case p.used:
			continue
		case !p.one.valid():
			p.status = 'A'
		case !p.two.valid():
			p.status = 'D'
		}
		out = append(out, p)
	}
	return out
}

func (d *renameDetector) increment(oldDir, newDir string) {
	c := d.counts[oldDir]
	if c == nil {
		c = &countMap{}
		d.counts[oldDir] = c
	}
	c.incr(newDir)
}

// countDirRename is update_dir_rename_counts: a rename of a/b/c/f to
// x/y/c/f counts a/b/c → x/y/c, and a/b → x/y as long as the trailing
// directory names agree and the old directory is being looked for. The
// comparison is done byte for byte as git does it on its NUL-split copies
// of the two paths, including how it treats a path that reaches the top
// level.
func (d *renameDetector) countDirRename(oldName, newName string) {
	if !d.setup {
		return
	}
	old, nw := []byte(oldName), []byte(newName)
	var firstChar byte
	if len(nw) > 0 {
		firstChar = nw[0]
	}
	oldEnd, newEnd := len(old), len(nw)
	first := true
	for {
		oldPrev := oldEnd
		oldEnd, old = munge(old, oldEnd)
		oldDir := string(old[:oldEnd])
		if _, ok := d.dirsRemoved[oldDir]; !ok {
			break
		}
		newPrev := newEnd
		newEnd, nw = munge(nw, newEnd)
		newDir := string(nw[:newEnd])
		if !first {
			oldSub := cstring(old, oldEnd+1, oldPrev)
			newSub := cstring(nw, newEnd+1, newPrev)
			if newEnd == 0 {
				if len(oldSub) == 0 || oldSub[0] != firstChar || string(oldSub[1:]) != string(newSub) {
					break
				}
			} else if string(oldSub) != string(newSub) {
				break
			}
		}
		flag := d.dirsRemoved[oldDir]
		if flag == dirForSelf || first {
			d.increment(oldDir, newDir)
		}
		first = false
		if flag == dirNotRelevant || oldEnd == 0 || newEnd == 0 {
			break
		}
	}
}

// munge is git's dirname_munge on a NUL-terminated buffer whose string
// currently ends at end: the last '/' (or, without one, the first byte)
// becomes the new end.
func munge(buf []byte, end int) (int, []byte) {
	i := strings.LastIndexByte(string(buf[:end]), '/')
	if i < 0 {
		i = 0
	}
	if i < len(buf) {
		buf[i] = 0
	}
	return i, buf
}

// cstring is the C string that starts at from in buf: up to the first NUL
// or to limit.
func cstring(buf []byte, from, limit int) []byte {
	if from >= limit || from >= len(buf) {
		return nil
	}
	s := buf[from:limit]
	if i := slices.Index(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// cleanupCounts keeps only counts for directories that were removed and
// matter, without the unknownDir placeholders (cleanup_dir_rename_info).
func (d *renameDetector) cleanupCounts() {
	if !d.setup {
		return
	}
	for dir, c := range d.counts {
		if d.dirsRemoved[dir] == dirNotRelevant {
			delete(d.counts, dir)
			continue
		}
		c.remove(unknownDir)
	}
}
