package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
)

// seedServer publishes a small repo with a prod overlay and returns the work
// repo, the server and the URL.
func seedServer(t *testing.T, name string) (*workRepo, *gitServer, string) {
	t.Helper()
	w := newWorkRepo(t)
	w.write("apps/prod/kustomization.yaml", kustomization("v1", "v1"))
	w.write("apps/staging/kustomization.yaml", kustomization("v2", "v2"))
	w.write("README.md", "hello\n")
	w.commit("base")
	gs := newGitServer(t)
	return w, gs, gs.publish(t, w.dir, name)
}

func setTagEdit(tag string) func(*TreeEditor) error {
	return func(ed *TreeEditor) error {
		return ed.WriteFile("apps/prod/kustomization.yaml", []byte(kustomization(tag, tag)))
	}
}

func TestUpdatePushModes(t *testing.T) {
	_, gs, url := seedServer(t, "modes")
	r := openCache(t, url)
	ctx := testCtx(t)
	meta := CommitMeta{Message: "Promote app to v2", Trailers: []Trailer{{Key: "Ensign-Promotion", Value: "app/v2"}}, Author: botIdentity, When: fixedTime}

	t.Run("fast-forward", func(t *testing.T) {
		res, err := r.Update(ctx, Target{Branch: "main"}, meta, setTagEdit("v2"))
		if err != nil {
			t.Fatal(err)
		}
		if got := serverTip(t, gs, "modes", "main"); got != res.Commit.String() {
			t.Fatalf("server main = %s, pushed %s", got, res.Commit)
		}
		clone := t.TempDir()
		runGit(t, "", "clone", "-q", url, clone)
		runGit(t, clone, "fsck", "--strict")
		if got := runGit(t, clone, "show", "HEAD:apps/prod/kustomization.yaml"); got != strings.TrimSpace(kustomization("v2", "v2")) {
			t.Fatalf("pushed content:\n%s", got)
		}
		trailers := runGit(t, clone, "log", "-1", "--format=%(trailers:key=Ensign-Promotion,valueonly)")
		if trailers != "app/v2" {
			t.Fatalf("trailer as git reads it: %q", trailers)
		}
	})
	t.Run("nothing to commit", func(t *testing.T) {
		_, err := r.Update(ctx, Target{Branch: "main"}, meta, setTagEdit("v2"))
		if !errors.Is(err, ErrNothingToCommit) {
			t.Fatalf("err = %v, want ErrNothingToCommit", err)
		}
	})
	t.Run("create branch", func(t *testing.T) {
		target := Target{Branch: "ensign/promote-v3", Base: "main", Mode: CreateBranch}
		res, err := r.Update(ctx, target, meta, setTagEdit("v3"))
		if err != nil {
			t.Fatal(err)
		}
		if got := serverTip(t, gs, "modes", "ensign/promote-v3"); got != res.Commit.String() {
			t.Fatalf("server branch = %q, pushed %s", got, res.Commit)
		}
		if _, err := r.Update(ctx, target, meta, setTagEdit("v4")); !errors.Is(err, ErrBranchExists) {
			t.Fatalf("second create: err = %v, want ErrBranchExists", err)
		}
	})
	t.Run("force branch", func(t *testing.T) {
		target := Target{Branch: "ensign/promote-v3", Base: "main", Mode: ForceBranch}
		res, err := r.Update(ctx, target, meta, setTagEdit("v5"))
		if err != nil {
			t.Fatal(err)
		}
		if got := serverTip(t, gs, "modes", "ensign/promote-v3"); got != res.Commit.String() {
			t.Fatalf("server branch = %q, pushed %s", got, res.Commit)
		}
		mainTip := serverTip(t, gs, "modes", "main")
		if res.Parent.String() != mainTip {
			t.Fatalf("force-pushed commit's parent %s, want main %s", res.Parent, mainTip)
		}
	})
	t.Run("missing base", func(t *testing.T) {
		_, err := r.Update(ctx, Target{Branch: "x", Base: "nope", Mode: CreateBranch}, meta, setTagEdit("v6"))
		if !errors.Is(err, ErrBranchMissing) {
			t.Fatalf("err = %v, want ErrBranchMissing", err)
		}
	})
	t.Run("bad identity", func(t *testing.T) {
		bad := meta
		bad.Author = Identity{Name: "x"}
		if _, err := r.Update(ctx, Target{Branch: "main"}, bad, setTagEdit("v7")); err == nil {
			t.Fatal("no error for an identity without email")
		}
	})
}

// TestPushRaceWithConcurrentPusher lets the git CLI push to the branch after
// ensign has read the tip and before it pushes, so only the server's
// compare-and-swap can catch the race; ensign must refetch, re-apply its edit
// and land on top of the other commit.
func TestPushRaceWithConcurrentPusher(t *testing.T) {
	w, gs, url := seedServer(t, "race")
	runGit(t, w.dir, "remote", "add", "origin", url)
	r := openCache(t, url)
	ctx := testCtx(t)
	calls := 0
	edit := func(ed *TreeEditor) error {
		calls++
		if calls == 1 {
			w.write("README.md", "changed by someone else\n")
			w.commit("concurrent change")
			w.git("push", "-q", "origin", "main")
		}
		return setTagEdit("v9")(ed)
	}
	res, err := r.Update(ctx, Target{Branch: "main"}, CommitMeta{Message: "promote v9", Author: botIdentity}, edit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || calls != 2 {
		t.Fatalf("attempts = %d, edit calls = %d; want 2 and 2", res.Attempts, calls)
	}
	w.git("pull", "-q", "origin", "main")
	if got := w.head(); got != res.Commit.String() {
		t.Fatalf("server tip %s, ensign pushed %s", got, res.Commit)
	}
	if got := w.git("show", "HEAD:README.md"); got != "changed by someone else" {
		t.Fatalf("concurrent change lost: README.md = %q", got)
	}
	if got := w.git("rev-parse", "HEAD~1"); got != res.Parent.String() {
		t.Fatalf("parent %s, want the concurrent commit %s", res.Parent, got)
	}
	_ = gs
}

// TestConcurrentUpdates runs several goroutines on one shared Repo and on
// separate Repos of the same remote; every change must land exactly once.
func TestConcurrentUpdates(t *testing.T) {
	_, gs, url := seedServer(t, "concurrent")
	ctx := testCtx(t)
	shared := openCache(t, url)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < 2*n; i++ {
		r := shared
		if i >= n {
			r = openCache(t, url)
		}
		wg.Add(1)
		go func(i int, r *Repo) {
			defer wg.Done()
			path := fmt.Sprintf("apps/prod/extra-%d.yaml", i)
			_, err := r.Update(ctx, Target{Branch: "main", MaxAttempts: 4 * n}, CommitMeta{Message: "add " + path, Author: botIdentity},
				func(ed *TreeEditor) error {
					if _, err := ed.ReadFile("apps/prod/kustomization.yaml"); err != nil {
						return err
					}
					return ed.WriteFile(path, []byte(fmt.Sprintf("n: %d\n", i)))
				})
			if err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", i, err)
			}
			// Reads while others write.
			if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
				errs <- err
			}
		}(i, r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	clone := t.TempDir()
	runGit(t, "", "clone", "-q", url, clone)
	files := runGit(t, clone, "ls-files", "apps/prod")
	for i := 0; i < 2*n; i++ {
		if !strings.Contains(files, fmt.Sprintf("extra-%d.yaml", i)) {
			t.Errorf("change %d missing; files:\n%s", i, files)
		}
	}
	if got := runGit(t, clone, "rev-list", "--count", "HEAD"); got != fmt.Sprint(2*n+1) {
		t.Errorf("commit count %s, want %d", got, 2*n+1)
	}
	_ = gs
}

func TestRevertPushAndFindRevert(t *testing.T) {
	w, gs, url := seedServer(t, "revert")
	runGit(t, w.dir, "remote", "add", "origin", url)
	w.write("apps/prod/kustomization.yaml", kustomization("v2", "v1"))
	bad := w.commit("Promote app to v2\n\nEnsign-Promotion: app/v2")
	for i := 0; i < 5; i++ {
		w.write(fmt.Sprintf("other/%d.txt", i), "x\n")
		w.commit(fmt.Sprintf("other %d", i))
	}
	w.git("push", "-q", "origin", "main")
	r := openCache(t, url)
	ctx := testCtx(t)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if c, err := r.FindRevert(ctx, "main", hash(bad), 0, gitRevertLines); err != nil || c != nil {
		t.Fatalf("FindRevert before revert = %v, %v", c, err)
	}
	last, err := r.LastChange(ctx, "main", "apps/prod")
	if err != nil || last.Hash.String() != bad {
		t.Fatalf("LastChange(apps/prod) = %v, %v; want %s", last, err, bad)
	}
	req := RevertRequest{Commit: hash(bad), Author: botIdentity, Trailers: []Trailer{{Key: "Ensign-Reverts", Value: bad}, {Key: "Ensign-Canary", Value: "prod/app"}}}
	res, err := r.Revert(ctx, Target{Branch: "ensign/revert", Base: "main", Mode: CreateBranch}, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := serverTip(t, gs, "revert", "ensign/revert"); got != res.Commit.String() {
		t.Fatalf("server has %q, pushed %s", got, res.Commit)
	}
	res, err = r.Revert(ctx, Target{Branch: "main"}, req)
	if err != nil {
		t.Fatal(err)
	}
	w.git("pull", "-q", "origin", "main")
	if got := w.git("show", "HEAD:apps/prod/kustomization.yaml"); got != strings.TrimSpace(kustomization("v1", "v1")) {
		t.Fatalf("reverted content:\n%s", got)
	}
	msg := w.git("log", "-1", "--format=%B")
	wantMsg := "Revert \"Promote app to v2\"\n\nThis reverts commit " + bad + ".\n\nEnsign-Reverts: " + bad + "\nEnsign-Canary: prod/app"
	if msg != wantMsg {
		t.Fatalf("message:\n%s\nwant:\n%s", msg, wantMsg)
	}
	if got := w.git("log", "-1", "--format=%(trailers:key=Ensign-Reverts,valueonly)"); got != bad {
		t.Fatalf("git reads Ensign-Reverts as %q", got)
	}
	c, err := r.FindRevert(ctx, "main", hash(bad), 0, gitRevertLines)
	if err != nil || c == nil || c.Hash != res.Commit {
		t.Fatalf("FindRevert = %v, %v; want %s", c, err, res.Commit)
	}
	if _, err := r.Revert(ctx, Target{Branch: "main"}, req); !errors.Is(err, ErrAlreadyReverted) {
		t.Fatalf("second revert: err = %v, want ErrAlreadyReverted", err)
	}
	// Reverting the revert re-applies the change; then it no longer counts.
	if _, err := r.Revert(ctx, Target{Branch: "main"}, RevertRequest{Commit: res.Commit, Author: botIdentity}); err != nil {
		t.Fatal(err)
	}
	if c, err := r.FindRevert(ctx, "main", hash(bad), 0, gitRevertLines); err != nil || c != nil {
		t.Fatalf("FindRevert after revert of revert = %v, %v; want none", c, err)
	}
}

func TestRevertBadRequests(t *testing.T) {
	w := newWorkRepo(t)
	w.write("a.txt", "a\n")
	root := w.commit("root")
	w.write("a.txt", "b\n")
	second := w.commit("second")
	gs := newGitServer(t)
	r := openCache(t, gs.publish(t, w.dir, "bad"))
	ctx := testCtx(t)
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	head := hash(second)
	cases := []struct {
		name string
		req  RevertRequest
		want error
	}{
		{"root commit", RevertRequest{Commit: hash(root)}, ErrRootCommit},
		{"unknown sha", RevertRequest{Commit: hash(strings.Repeat("ab", 20))}, ErrNotFound},
		{"mainline on single parent", RevertRequest{Commit: head, Mainline: 2}, ErrBadMainline},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Author = botIdentity
			_, err := r.RevertTree(ctx, head, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	w.git("checkout", "-q", "-b", "side", root)
	w.write("b.txt", "b\n")
	w.commit("side")
	w.git("checkout", "-q", "main")
	w.git("merge", "-q", "--no-ff", "-m", "merge", "side")
	merge := w.head()
	runGit(t, gs.dir("bad"), "fetch", "-q", w.dir, "main:main")
	if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	for _, ml := range []int{0, 3} {
		if _, err := r.RevertTree(ctx, hash(merge), RevertRequest{Commit: hash(merge), Mainline: ml, Author: botIdentity}); !errors.Is(err, ErrBadMainline) {
			t.Fatalf("merge with mainline %d: err = %v, want ErrBadMainline", ml, err)
		}
	}
}

func TestTreeEditor(t *testing.T) {
	_, _, url := seedServer(t, "editor")
	r := openCache(t, url)
	ctx := testCtx(t)
	tips, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}})
	if err != nil {
		t.Fatal(err)
	}
	objs := newObjectSet(r)
	c, err := objs.commit(tips["main"])
	if err != nil {
		t.Fatal(err)
	}
	ed := newTreeEditor(objs, c.Tree)
	if _, err := ed.ReadFile("apps/missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := ed.WriteFile("apps/prod/kustomization.yaml/x", nil); err == nil {
		t.Fatal("writing under a file succeeded")
	}
	if err := ed.WriteFile("../escape", nil); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("bad path: %v", err)
	}
	// Copy a directory, as overlay promotion does.
	files, err := ed.List("apps/staging")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ed.List("apps/prod/kustomization.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List of a file: %v, want fs.ErrNotExist", err)
	}
	for _, f := range files {
		b, err := ed.ReadFile("apps/staging/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := ed.WriteFile("apps/canary/"+f, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := ed.Remove("README.md"); err != nil {
		t.Fatal(err)
	}
	if err := ed.Remove("apps/staging"); err != nil {
		t.Fatal(err)
	}
	tree, err := ed.Write()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ed.List("")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/canary/kustomization.yaml", "apps/prod/kustomization.yaml"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("List = %v, want %v", got, want)
	}
	// The untouched subtree is reused, not rewritten.
	prodBefore, _ := objs.pathHash(c.Tree, []string{"apps", "prod"})
	prodAfter, _ := objs.pathHash(tree, []string{"apps", "prod"})
	if prodBefore != prodAfter || prodBefore.IsZero() {
		t.Fatalf("apps/prod subtree changed: %s -> %s", prodBefore, prodAfter)
	}
	// Only the root and apps trees are new: apps/canary has the same content
	// as the old apps/staging tree, and failed writes left nothing behind.
	if len(objs.news) != 2 {
		for _, h := range objs.news {
			t.Logf("new %s %s", h, objs.mem.Objects[h].Type())
		}
		t.Fatalf("new objects = %d, want 2", len(objs.news))
	}
	_ = context.Background
}

// gitRevertLines is the reverted-commits vocabulary FindRevert is given in
// these tests: the full ids on git's "This reverts commit <id>" lines.
func gitRevertLines(msg string) []string {
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		if rest, ok := strings.CutPrefix(line, "This reverts commit "); ok && len(rest) >= 40 {
			out = append(out, rest[:40])
		}
	}
	return out
}
