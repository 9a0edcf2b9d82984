package gitops

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
)

// Histories for the rename differential test: a base tree of a few
// directories of YAML-like files, a target commit, and later commits that
// rename files, move them between directories, rename whole directories,
// copy, edit, add and delete, so that git's exact, inexact, base-name and
// directory rename detection all come into play on either side of the
// revert.

var renameDirs = []string{"apps/web", "apps/api", "apps/api/config", "base", "overlays/prod", "overlays/staging", "lib/x/y", "docs"}

var renameNames = []string{"kustomization.yaml", "deployment.yaml", "service.yaml", "values.yaml", "hpa.yaml", "notes.md", "f1.yaml", "f2.yaml"}

// genContent makes a file of mostly distinct lines (so that unrelated files
// are not similar) with some of the shared vocabulary mixed in.
func genContent(rng *rand.Rand) string {
	if rng.Intn(40) == 0 {
		return ""
	}
	n := rng.Intn(25) + 4
	ls := make([]string, 0, n)
	for len(ls) < n {
		if rng.Intn(3) == 0 {
			ls = append(ls, yamlVocab[rng.Intn(len(yamlVocab))])
			continue
		}
		ls = append(ls, fmt.Sprintf("  key%d: value-%d", rng.Intn(100000), rng.Intn(1000)))
	}
	return render(ls, rng.Intn(8) != 0)
}

// editContent changes a file a little (usually staying similar enough to
// be a rename) or a lot.
func editContent(rng *rand.Rand, s string) string {
	ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if s == "" {
		ls = nil
	}
	switch rng.Intn(6) {
	case 0: // rewrite most of it
		return genContent(rng)
	case 1: // append a block
		return s + genContent(rng)
	default:
		return render(mutate(rng, ls), strings.HasSuffix(s, "\n") || s == "")
	}
}

type treeState map[string]string

func (t treeState) clone() treeState {
	c := make(treeState, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

func (t treeState) paths() []string {
	ps := make([]string, 0, len(t))
	for p := range t {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// dirs lists the directories holding files, sorted.
func (t treeState) dirs() []string {
	seen := map[string]bool{}
	for p := range t {
		for d := dirName(p); d != ""; d = dirName(d) {
			seen[d] = true
		}
	}
	ds := make([]string, 0, len(seen))
	for d := range seen {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// free reports whether p can hold a new file: nothing there, and no file
// where one of its directories would be.
func (t treeState) free(p string) bool {
	if _, ok := t[p]; ok {
		return false
	}
	for d := dirName(p); d != ""; d = dirName(d) {
		if _, ok := t[d]; ok {
			return false
		}
	}
	for q := range t {
		if strings.HasPrefix(q, p+"/") {
			return false
		}
	}
	return true
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.Intn(len(xs))] }

// newPathFor proposes where a renamed file goes: same directory with a new
// name, another directory with the same name, or a new directory.
func newPathFor(rng *rand.Rand, t treeState, p string) string {
	for try := 0; try < 10; try++ {
		var np string
		switch rng.Intn(4) {
		case 0:
			np = joinPath(dirName(p), pick(rng, renameNames))
		case 1:
			np = joinPath(dirName(p), fmt.Sprintf("renamed-%d.yaml", rng.Intn(50)))
		case 2:
			np = joinPath(pick(rng, renameDirs), baseName(p))
		default:
			np = joinPath(pick(rng, renameDirs), pick(rng, renameNames))
		}
		if np != p && t.free(np) {
			return np
		}
	}
	return ""
}

// applyOp changes t by one random operation; later commits lean towards
// renames.
func applyOp(rng *rand.Rand, t treeState, later bool) {
	ps := t.paths()
	if len(ps) == 0 {
		t[joinPath(pick(rng, renameDirs), pick(rng, renameNames))] = genContent(rng)
		return
	}
	p := pick(rng, ps)
	r := rng.Intn(100)
	if later && rng.Intn(5) < 3 {
		r = 50 + rng.Intn(50)
	}
	switch {
	case r < 30: // edit
		t[p] = editContent(rng, t[p])
	case r < 40: // add a new file or a copy
		np := joinPath(pick(rng, append(renameDirs, t.dirs()...)), pick(rng, renameNames))
		if t.free(np) {
			if rng.Intn(3) == 0 {
				t[np] = t[p]
			} else {
				t[np] = genContent(rng)
			}
		}
	case r < 50: // delete
		delete(t, p)
	case r < 80: // rename a file, maybe with an edit
		np := newPathFor(rng, t, p)
		if np == "" {
			return
		}
		c := t[p]
		delete(t, p)
		if rng.Intn(2) == 0 {
			c = editContent(rng, c)
		}
		t[np] = c
	default: // rename a directory
		renameDir(rng, t)
	}
}

// renameDir moves a directory (or most of it) somewhere else, sometimes
// editing one of the moved files.
func renameDir(rng *rand.Rand, t treeState) {
	ds := t.dirs()
	if len(ds) == 0 {
		return
	}
	d := pick(rng, ds)
	var nd string
	switch rng.Intn(3) {
	case 0:
		nd = joinPath(dirName(d), fmt.Sprintf("moved%d", rng.Intn(20)))
	case 1:
		nd = joinPath(pick(rng, []string{"apps", "old", "services/v2", ""}), baseName(d))
	default:
		nd = pick(rng, renameDirs)
	}
	if nd == "" || nd == d || strings.HasPrefix(nd+"/", d+"/") {
		return
	}
	var moved []string
	for _, p := range t.paths() {
		if strings.HasPrefix(p, d+"/") {
			moved = append(moved, p)
		}
	}
	leave := -1
	if len(moved) > 2 && rng.Intn(5) == 0 {
		leave = rng.Intn(len(moved))
	}
	next := t.clone()
	for i, p := range moved {
		if i == leave {
			continue
		}
		np := nd + strings.TrimPrefix(p, d)
		c := next[p]
		delete(next, p)
		if !next.free(np) {
			return // would collide; give up on this move
		}
		if rng.Intn(6) == 0 {
			c = editContent(rng, c)
		}
		next[np] = c
	}
	for k := range t {
		delete(t, k)
	}
	for k, v := range next {
		t[k] = v
	}
}

// changes is what turns a into b for fast-import (nil deletes).
func changes(a, b treeState) map[string]*string {
	ch := map[string]*string{}
	for p := range a {
		if _, ok := b[p]; !ok {
			ch[p] = nil
		}
	}
	for p, c := range b {
		if old, ok := a[p]; !ok || old != c {
			c := c
			ch[p] = &c
		}
	}
	return ch
}

// genRenameCase builds base, target and 0-3 later commits.
func genRenameCase(rng *rand.Rand, branch string) (*history, int) {
	h := &history{branch: branch}
	t := treeState{}
	for _, d := range pickDirs(rng) {
		for n := rng.Intn(4) + 1; n > 0; n-- {
			p := joinPath(d, pick(rng, renameNames))
			if t.free(p) {
				t[p] = genContent(rng)
			}
		}
	}
	h.commit("base", changes(treeState{}, t))
	// Half the cases revert a promotion-like commit (only edits), the
	// common case for a GitOps bot; the rest any mix of operations.
	promotion := rng.Intn(2) == 0
	for {
		next := t.clone()
		for n := rng.Intn(3) + 1; n > 0; n-- {
			if promotion {
				p := pick(rng, next.paths())
				next[p] = editContent(rng, next[p])
				continue
			}
			applyOp(rng, next, false)
		}
		if ch := changes(t, next); len(ch) > 0 {
			h.commit("target", ch)
			t = next
			break
		}
	}
	target := h.marks
	for i := rng.Intn(4); i > 0; i-- {
		next := t.clone()
		for n := rng.Intn(3) + 1; n > 0; n-- {
			applyOp(rng, next, true)
		}
		h.commit(fmt.Sprintf("later %d", i), changes(t, next))
		t = next
	}
	return h, target
}

func pickDirs(rng *rand.Rand) []string {
	n := rng.Intn(3) + 1
	perm := rng.Perm(len(renameDirs))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, renameDirs[i])
	}
	return out
}
