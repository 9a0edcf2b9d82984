package gitops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestLogPathsAgreesWithLog walks a history of random changes once for
// many paths and checks that each path's commits are exactly those Log
// reports for that path alone, and those `git log --first-parent -- path`
// lists. The root has few names walked (compared one by one), apps/ more
// than fewNames (found through the trie's index), so both ways of picking
// entries are compared with git.
func TestLogPathsAgreesWithLog(t *testing.T) {
	w := newWorkRepo(t)
	files := []string{"apps/a/prod/k.yaml", "apps/a/stg/k.yaml", "apps/b/prod/k.yaml", "apps/b/prod/extra.yaml", "apps/c", "README.md", "base/x.yaml",
		"apps/d/prod/k.yaml", "apps/e/prod/k.yaml"}
	rng := rand.New(rand.NewPCG(7, 11))
	present := map[string]bool{}
	for i := range 60 {
		f := files[rng.IntN(len(files))]
		switch {
		case f == "apps/c" && present["apps/c/prod/k.yaml"]:
			w.rm("apps/c/prod/k.yaml") // a directory becomes a file
			delete(present, "apps/c/prod/k.yaml")
		case f == "apps/c" && present[f]:
			w.rm(f)
			delete(present, f)
			f = "apps/c/prod/k.yaml" // and a file a directory
			fallthrough
		case present[f] && rng.IntN(4) == 0:
			if present[f] {
				w.rm(f)
				delete(present, f)
				break
			}
			fallthrough
		default:
			w.write(f, fmt.Sprintf("v%d\n", i))
			present[f] = true
		}
		if len(present) == 0 {
			w.write("README.md", "keep\n")
			present["README.md"] = true
		}
		w.commit(fmt.Sprintf("change %d", i))
	}
	gs := newGitServer(t)
	r := openCache(t, gs.publish(t, w.dir, "logpaths"))
	ctx := testCtx(t)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	paths := []string{"apps/a/prod", "apps/a", "apps/b/prod", "apps/b/prod/extra.yaml", "apps/c/prod", "apps/c", "README.md", "base", "missing/dir",
		"apps/d/prod", "apps/e/prod/k.yaml", "apps/f", "apps/g", "apps/h", "apps/i"}
	got := make([][]string, len(paths))
	err := r.LogPaths(ctx, "main", paths, 0, func(c *CommitInfo, changed []int) error {
		for _, i := range changed {
			got[i] = append(got[i], c.Hash.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		var want []string
		if err := r.Log(ctx, "main", LogOptions{Path: p}, func(c *CommitInfo) error {
			want = append(want, c.Hash.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[i], want) {
			t.Errorf("%s: LogPaths reports %d commits, Log %d:\n%v\n%v", p, len(got[i]), len(want), got[i], want)
		}
		gitLog := strings.Fields(w.git("log", "--first-parent", "--format=%H", "--", p))
		if !slices.Equal(want, gitLog) {
			t.Errorf("%s: Log reports %d commits, git log %d:\n%v\n%v", p, len(want), len(gitLog), want, gitLog)
		}
	}
}
