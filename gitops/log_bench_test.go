package gitops

import (
	"fmt"
	"testing"
)

// bigTreeRepo is a repository shaped like a fleet's GitOps repository: 500
// apps under apps/, then 200 commits that each change one app's production
// overlay (app i*7 mod 500 in commit i).
func bigTreeRepo(b *testing.B) *Repo {
	w := newWorkRepo(b)
	const apps, commits = 500, 200
	for i := range apps {
		w.write(fmt.Sprintf("apps/app-%04d/prod/kustomization.yaml", i), "images: [{name: app, newTag: 1.0.0}]\n")
	}
	w.commit("fleet")
	for i := range commits {
		w.write(fmt.Sprintf("apps/app-%04d/prod/kustomization.yaml", i*7%apps), fmt.Sprintf("images: [{name: app, newTag: 1.0.%d}]\n", i+1))
		w.commit(fmt.Sprintf("release %d", i))
	}
	gs := newGitServer(b)
	r := openCache(b, gs.publish(b, w.dir, "bigtree"))
	if _, err := r.Fetch(testCtx(b), FetchOptions{Branches: []string{"main"}}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkLogPathBigTree walks the whole history for the commits that
// changed one app's overlay: the walk rollback and promotion run per event.
func BenchmarkLogPathBigTree(b *testing.B) {
	r := bigTreeRepo(b)
	ctx := testCtx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		err := r.Log(ctx, "main", LogOptions{Path: "apps/app-0007/prod"}, func(*CommitInfo) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		if n != 2 { // "fleet" and "release 1" (1*7 = 7)
			b.Fatalf("%d commits changed apps/app-0007/prod, want 2", n)
		}
	}
}

// BenchmarkLogPathsBigTree is the same walk with LogPaths, for one failure
// and for batches of 8 and 32 (apps 7, 14, 21 and on, each changed once after
// "fleet").
func BenchmarkLogPathsBigTree(b *testing.B) {
	r := bigTreeRepo(b)
	ctx := testCtx(b)
	for _, n := range []int{1, 8, 32} {
		paths := make([]string, n)
		for i := range paths {
			paths[i] = fmt.Sprintf("apps/app-%04d/prod", (i+1)*7)
		}
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				found := 0
				err := r.LogPaths(ctx, "main", paths, 0, func(_ *CommitInfo, changed []int) error { found += len(changed); return nil })
				if err != nil {
					b.Fatal(err)
				}
				if found != 2*n {
					b.Fatalf("%d changes of %d paths, want %d", found, n, 2*n)
				}
			}
		})
	}
}
