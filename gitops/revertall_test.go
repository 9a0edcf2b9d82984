package gitops

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRevertAllOnePush reverts several commits in one push: each revert is
// its own commit with its own trailers, in request order, the tree equals
// what `git revert` of the same commits gives, and requests that cannot be
// written are left out without stopping the others.
func TestRevertAllOnePush(t *testing.T) {
	w, gs, url := seedServer(t, "batch")
	runGit(t, w.dir, "remote", "add", "origin", url)
	var bad []string
	for i := range 4 {
		w.write(fmt.Sprintf("apps/app%d/prod/kustomization.yaml", i), kustomization("v1"))
		w.commit(fmt.Sprintf("add app%d", i))
	}
	for i := range 4 {
		w.write(fmt.Sprintf("apps/app%d/prod/kustomization.yaml", i), kustomization("v2"))
		bad = append(bad, w.commit(fmt.Sprintf("Promote app%d to v2", i)))
	}
	// app3's bad change is edited again later: its revert conflicts.
	w.write("apps/app3/prod/kustomization.yaml", kustomization("v3"))
	w.commit("app3 to v3 by hand")
	w.git("push", "-q", "origin", "main")
	before := w.head()

	r := openCache(t, url)
	ctx := testCtx(t)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	req := func(sha, failure string) RevertRequest {
		return RevertRequest{Commit: hash(sha), Author: botIdentity, When: fixedTime,
			Trailers: []Trailer{{Key: "Ensign-Failure", Value: failure}}}
	}
	excluded := "images/excluded.yaml"
	withAlso := req(bad[2], "f2")
	withAlso.Also = func(ed *TreeEditor) error { return ed.WriteFile(excluded, []byte("exclude: v2\n")) }
	reqs := []RevertRequest{req(bad[1], "f1"), req(bad[3], "f3"), withAlso, req(bad[0], "f0"), req(bad[1], "f1-again")}
	res, outs, err := r.RevertAll(ctx, Target{Branch: "main"}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	var conflict *ConflictError
	if !errors.As(outs[1].Err, &conflict) || !outs[1].Commit.IsZero() {
		t.Fatalf("outcome of the conflicting revert = %+v, want a ConflictError", outs[1])
	}
	if !errors.Is(outs[4].Err, ErrAlreadyReverted) {
		t.Fatalf("outcome of the second revert of %s = %+v, want ErrAlreadyReverted", bad[1][:7], outs[4])
	}
	for _, i := range []int{0, 2, 3} {
		if outs[i].Err != nil || outs[i].Commit.IsZero() {
			t.Fatalf("outcome %d = %+v, want a commit", i, outs[i])
		}
	}
	if res.Commit != outs[3].Commit || serverTip(t, gs, "batch", "main") != res.Commit.String() {
		t.Fatalf("server main = %s, result %s, last revert %s", serverTip(t, gs, "batch", "main"), res.Commit, outs[3].Commit)
	}
	// The chain, oldest first: f1, f2, f0, each on the one before.
	w.git("pull", "-q", "origin", "main")
	log := w.git("log", "--format=%P %(trailers:key=Ensign-Failure,valueonly,separator=)", before+"..main")
	want := []string{
		outs[2].Commit.String() + " f0",
		outs[0].Commit.String() + " f2",
		before + " f1",
	}
	if got := strings.Split(log, "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("pushed chain (parent, failure), newest first:\n%s\nwant:\n%s", log, strings.Join(want, "\n"))
	}
	if got := w.git("show", "HEAD~1:"+excluded); got != "exclude: v2" {
		t.Fatalf("the Also edit in f2's revert: %q", got)
	}
	// git's own reverts of the same commits give the same tree (less the
	// Also edit).
	runGit(t, w.dir, "checkout", "-q", "-b", "git", before)
	runGit(t, w.dir, "revert", "--no-edit", bad[1], bad[2], bad[0])
	runGit(t, w.dir, "rm", "-q", "--cached", "--ignore-unmatch", excluded)
	gitTree := w.git("rev-parse", "HEAD^{tree}")
	runGit(t, w.dir, "checkout", "-q", "main")
	runGit(t, w.dir, "rm", "-q", excluded)
	runGit(t, w.dir, "commit", "-q", "-m", "drop the excluded file")
	if ours := w.git("rev-parse", "HEAD^{tree}"); ours != gitTree {
		t.Fatalf("tree after RevertAll %s, after git revert %s", ours, gitTree)
	}

	// Nothing left to revert: no push, no result, every request says why.
	res, outs, err = r.RevertAll(ctx, Target{Branch: "main"}, reqs[:1])
	if err != nil || res != nil || !errors.Is(outs[0].Err, ErrAlreadyReverted) {
		t.Fatalf("RevertAll of a reverted commit = %v, %+v, %v", res, outs, err)
	}
}
