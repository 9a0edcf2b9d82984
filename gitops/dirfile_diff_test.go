package gitops

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	seed := int64(envInt("ENSIGN_DIFF_SEED", 20260102))
	rng := rand.New(rand.NewSource(seed))
	dump := t.TempDir()
	var spent [4]time.Duration
	var agree, conflicts, renameMiss int
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "--template=", "-b", "main")
	for i := 0; i < cases; i++ {
		h, target := genDFCase(rng, fmt.Sprintf("case%d", i))
		got, want, err := runDifferentialCase(t, dir, h, target, &spent)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got != want && gitSawRename(t, dir, h.branch, target) {
			renameMiss++ // rename detection is not implemented yet
			continue
		}
		if got != want {
			p := filepath.Join(dump, fmt.Sprintf("df-case-%d-seed-%d.fi", i, seed))
			_ = os.WriteFile(p, h.stream.Bytes(), 0o644)
			t.Errorf("case %d: ensign %q, git %q (stream, target mark :%d, in %s)", i, got, want, target, p)
			continue
		}
		agree++
		if strings.HasPrefix(want, "conflict") {
			conflicts++
		}
	}
	t.Logf("seed %d: %d dir/file cases, %d agree (%d conflict), %d disagree where git saw a rename (not implemented), %d other disagreements",
		seed, cases, agree, conflicts, renameMiss, cases-agree-renameMiss)
}

// gitSawRename reports whether git's rename detection pairs any paths on
// either side of the revert of mark target on branch (target against its
// parent, target against the branch tip).
func gitSawRename(t *testing.T, dir, branch string, target int) bool {
	t.Helper()
	sha := runGit(t, dir, "rev-parse", fmt.Sprintf("%s~%d", branch, branchDepth(t, dir, branch, target)))
	for _, other := range []string{sha + "^", branch} {
		out := runGit(t, dir, "diff-tree", "-r", "-M", "--diff-filter=R", "--name-only", sha, other)
		if out != "" {
			return true
		}
	}
	return false
}

// branchDepth is how many first-parent steps below the tip mark target is
// (each case's marks count its commits from 1).
func branchDepth(t *testing.T, dir, branch string, target int) int {
	t.Helper()
	n := strings.Count(runGit(t, dir, "rev-list", "--first-parent", branch), "\n") + 1
	return n - target
}
