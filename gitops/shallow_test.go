package gitops

import (
	"fmt"
	"strings"
	"testing"
)

// TestShallowCacheRevert starts from a depth-1 fetch, walks history back
// (deepening on demand), reverts a commit 30 commits back and pushes; the
// result must equal git revert on a full clone.
func TestShallowCacheRevert(t *testing.T) {
	w := newWorkRepo(t)
	w.write("apps/prod/kustomization.yaml", kustomization("v1", "v1"))
	w.commit("base")
	w.write("apps/prod/kustomization.yaml", kustomization("v2", "v1"))
	target := w.commit("Promote app to v2")
	for i := 0; i < 30; i++ {
		w.write(fmt.Sprintf("other/%d.txt", i%7), fmt.Sprintf("rev %d\n", i))
		w.commit(fmt.Sprintf("other %d", i))
	}
	gs := newGitServer(t)
	url := gs.publish(t, w.dir, "shallow")
	ctx := testCtx(t)

	r := openCache(t, url)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}, Depth: 1}); err != nil {
		t.Fatal(err)
	}
	if shallow, err := r.IsShallow(); err != nil || !shallow {
		t.Fatalf("IsShallow = %v, %v after a depth-1 fetch", shallow, err)
	}
	if r.hasObject(hash(target)) {
		t.Fatal("depth-1 fetch brought old history")
	}
	last, err := r.LastChange(ctx, "main", "apps/prod/kustomization.yaml")
	if err != nil || last.Hash.String() != target {
		t.Fatalf("LastChange = %v, %v; want %s", last, err, target)
	}
	// A Log callback may read through the Repo (no deadlock), and the first
	// parent of every reported commit is present even in a shallow cache.
	var before []byte
	if err := r.Log(ctx, "main", LogOptions{Path: "apps/prod"}, func(c *CommitInfo) error {
		snap, err := r.Snapshot(c.Parents[0])
		if err != nil {
			return err
		}
		before, err = snap.ReadFile("apps/prod/kustomization.yaml")
		if err != nil {
			return err
		}
		return ErrStopWalk
	}); err != nil {
		t.Fatal(err)
	}
	if string(before) != kustomization("v1", "v1") {
		t.Fatalf("overlay before the promotion = %q", before)
	}
	if c, err := r.FindRevert(ctx, "main", hash(target), 0, gitRevertLines); err != nil || c != nil {
		t.Fatalf("FindRevert = %v, %v", c, err)
	}
	res, err := r.Revert(ctx, Target{Branch: "main"}, RevertRequest{Commit: hash(target), Author: botIdentity, When: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: the same revert by git on a full clone.
	head := w.head()
	w.git("revert", "--no-edit", target)
	wantTree := w.git("rev-parse", "HEAD^{tree}")
	clone := t.TempDir()
	runGit(t, "", "clone", "-q", url, clone)
	runGit(t, clone, "fsck", "--strict")
	if got := runGit(t, clone, "rev-parse", "HEAD^{tree}"); got != wantTree {
		t.Fatalf("pushed tree %s, git revert gives %s", got, wantTree)
	}
	if got := runGit(t, clone, "rev-parse", "HEAD~1"); got != head || res.Parent.String() != head {
		t.Fatalf("revert parent %s (result %s), want %s", got, res.Parent, head)
	}
	// A later incremental fetch on the shallow cache still works.
	w.git("reset", "-q", "--hard", head)
	runGit(t, clone, "commit", "-q", "--allow-empty", "-m", "from elsewhere")
	runGit(t, clone, "push", "-q", "origin", "HEAD:main")
	tips, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := runGit(t, clone, "rev-parse", "HEAD"); tips["main"].String() != want {
		t.Fatalf("tip after fetch %s, want %s", tips["main"], want)
	}
	var subjects []string
	if err := r.Log(ctx, "main", LogOptions{Max: 3}, func(c *CommitInfo) error {
		subjects = append(subjects, c.Subject())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(subjects, "|"); got != `from elsewhere|Revert "Promote app to v2"|other 29` {
		t.Fatalf("log = %s", got)
	}
}
