package gitops

import (
	"fmt"
	"math/rand"
	"testing"
)

// dfState is what one contested path holds in a commit: nothing, a file, or
// a directory of files.
type dfState struct {
	file  *string
	inner map[string]string // names under the directory; nil if not one
}

func randDFState(rng *rand.Rand, prev dfState) dfState {
	text := func() *string { s := render(randLines(rng, rng.Intn(6)+3), true); return &s }
	switch rng.Intn(5) {
	case 0:
		return dfState{}
	case 1:
		return dfState{file: text()}
	case 2: // edit whatever is there
		if prev.file != nil {
			return dfState{file: text()}
		}
		if prev.inner != nil {
			in := map[string]string{}
			for k, v := range prev.inner {
				in[k] = v
			}
			k := []string{"x", "y", "sub/z"}[rng.Intn(3)]
			in[k] = *text()
			return dfState{inner: in}
		}
		return dfState{file: text()}
	default:
		in := map[string]string{}
		for _, k := range []string{"x", "y", "sub/z"} {
			if rng.Intn(2) == 0 {
				in[k] = *text()
			}
		}
		if len(in) == 0 {
			in["x"] = *text()
		}
		return dfState{inner: in}
	}
}

// changesTo returns the fast-import changes that turn path p from a into b.
func changesTo(p string, a, b dfState) map[string]*string {
	ch := map[string]*string{}
	if a.file != nil && b.file == nil {
		ch[p] = nil
	}
	for k := range a.inner {
		if _, ok := b.inner[k]; !ok || b.file != nil {
			ch[p+"/"+k] = nil
		}
	}
	if b.file != nil && (a.file == nil || *a.file != *b.file) {
		ch[p] = b.file
	}
	for k, v := range b.inner {
		if old, ok := a.inner[k]; !ok || old != v || a.file != nil {
			v := v
			ch[p+"/"+k] = &v
		}
	}
	return ch
}

// genDFCase builds a history where apps/c changes between nothing, a file
// and a directory: base, the target commit, 0-2 later commits.
func genDFCase(rng *rand.Rand, branch string) (*history, int) {
	h := &history{branch: branch}
	keep := "keep\n"
	cur := randDFState(rng, dfState{})
	base := changesTo("apps/c", dfState{}, cur)
	base["apps/keep"] = &keep
	h.commit("base", base)
	next := cur
	for len(changesTo("apps/c", cur, next)) == 0 {
		next = randDFState(rng, cur)
	}
	h.commit("target", changesTo("apps/c", cur, next))
	target := h.marks
	cur = next
	for i := rng.Intn(3); i > 0; i-- {
		next = randDFState(rng, cur)
		h.commit(fmt.Sprintf("later %d", i), changesTo("apps/c", cur, next))
		cur = next
	}
	return h, target
}

// TestRevertDirFileDifferentialVsGit compares ensign with git revert on
// histories where one path turns between file, directory and nothing.
// ENSIGN_DF_CASES sets the case count (default 200), ENSIGN_DIFF_SEED the
// seed.
func TestRevertDirFileDifferentialVsGit(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	cases := envInt("ENSIGN_DF_CASES", 200)
	seed, rng, dump := diffSeed(t)
	r := newDiffRunner(t)
	var st diffStats
	r.each(cases, func(i int) (*history, int) { return genDFCase(rng, fmt.Sprintf("case%d", i)) },
		func(i int, h *history, target int, c caseResult) {
			st.add(c.renamed, c.got == c.want, c.want)
			if c.got == c.want {
				return
			}
			p := keepCase(dump, fmt.Sprintf("df-case-%d-seed-%d.fi", i, seed), h)
			t.Errorf("case %d (rename case: %v): ensign %q, git %q (stream, target mark :%d, in %s)", i, c.renamed, c.got, c.want, target, p)
		})
	r.logTime()
	t.Logf("seed %d: %d dir/file cases: %s", seed, cases, st)
}
