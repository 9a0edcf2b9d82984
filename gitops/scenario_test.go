package gitops

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// lines returns n numbered lines, with overrides by 1-based line number.
func lines(n int, over map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if s, ok := over[i]; ok {
			b.WriteString(s + "\n")
			continue
		}
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// kustomization renders an images: list with repeated, near-identical blocks.
func kustomization(tags ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n")
	for i, tag := range tags {
		fmt.Fprintf(&b, "  - name: app\n    newName: registry.example.com/app%d\n    newTag: %s\n", i%2, tag)
	}
	return b.String()
}

type scenario struct {
	name string
	// build makes history with the git CLI and returns the commit to revert
	// and the mainline parent (0 for none).
	build func(w *workRepo) (string, int)
}

var scenarios = []scenario{
	{"clean revert", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(10, nil))
		w.write("b.txt", "b\n")
		w.commit("base")
		w.write("a.txt", lines(10, map[int]string{5: "changed"}))
		return w.commit("change a"), 0
	}},
	{"other files changed later", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(10, nil))
		w.write("b.txt", "b\n")
		w.commit("base")
		w.write("a.txt", lines(10, map[int]string{5: "changed"}))
		c := w.commit("change a")
		w.write("b.txt", "b2\n")
		w.write("dir/c.txt", "c\n")
		w.commit("change b, add c")
		return c, 0
	}},
	{"same file changed elsewhere later", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(20, nil))
		w.commit("base")
		w.write("a.txt", lines(20, map[int]string{3: "three"}))
		c := w.commit("change line 3")
		w.write("a.txt", lines(20, map[int]string{3: "three", 15: "fifteen"}))
		w.commit("change line 15")
		return c, 0
	}},
	{"adjacent line changed later", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(20, nil))
		w.commit("base")
		w.write("a.txt", lines(20, map[int]string{3: "three"}))
		c := w.commit("change line 3")
		w.write("a.txt", lines(20, map[int]string{3: "three", 4: "four"}))
		w.commit("change line 4")
		return c, 0
	}},
	{"same line changed later", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(20, nil))
		w.commit("base")
		w.write("a.txt", lines(20, map[int]string{3: "three"}))
		c := w.commit("change line 3")
		w.write("a.txt", lines(20, map[int]string{3: "THREE"}))
		w.commit("change line 3 again")
		return c, 0
	}},
	{"file added by the commit", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("new.txt", "new\n")
		c := w.commit("add new")
		w.write("a.txt", "a2\n")
		w.commit("later")
		return c, 0
	}},
	{"added then modified later", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("new.txt", "new\n")
		c := w.commit("add new")
		w.write("new.txt", "newer\n")
		w.commit("modify new")
		return c, 0
	}},
	{"file deleted by the commit", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.write("gone.txt", "gone\n")
		w.commit("base")
		w.rm("gone.txt")
		c := w.commit("delete gone")
		w.write("a.txt", "a2\n")
		w.commit("later")
		return c, 0
	}},
	{"deleted by the commit then re-added differently", func(w *workRepo) (string, int) {
		w.write("x.txt", "x\n")
		w.commit("base")
		w.rm("x.txt")
		c := w.commit("delete x")
		w.write("x.txt", "another x\n")
		w.commit("re-add x")
		return c, 0
	}},
	{"modified by the commit then deleted later", func(w *workRepo) (string, int) {
		w.write("x.txt", "x\n")
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("x.txt", "x2\n")
		c := w.commit("modify x")
		w.rm("x.txt")
		w.commit("delete x")
		return c, 0
	}},
	{"binary changed", func(w *workRepo) (string, int) {
		w.write("img.bin", "\x00\x01\x02binary\n")
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("img.bin", "\x00\x01\x03binary v2\n")
		c := w.commit("change binary")
		w.write("a.txt", "a2\n")
		w.commit("later")
		return c, 0
	}},
	{"binary changed again later", func(w *workRepo) (string, int) {
		w.write("img.bin", "\x00\x01\x02binary\n")
		w.commit("base")
		w.write("img.bin", "\x00\x01\x03binary v2\n")
		c := w.commit("change binary")
		w.write("img.bin", "\x00\x01\x04binary v3\n")
		w.commit("change binary again")
		return c, 0
	}},
	{"mode change", func(w *workRepo) (string, int) {
		w.write("run.sh", "#!/bin/sh\necho hi\n")
		w.commit("base")
		w.chmod("run.sh", 0o755)
		return w.commit("make executable"), 0
	}},
	{"mode change then content edit", func(w *workRepo) (string, int) {
		w.write("run.sh", "#!/bin/sh\necho hi\n")
		w.commit("base")
		w.chmod("run.sh", 0o755)
		c := w.commit("make executable")
		w.write("run.sh", "#!/bin/sh\necho hello\n")
		w.chmod("run.sh", 0o755)
		w.commit("edit script")
		return c, 0
	}},
	{"mode changed both ways", func(w *workRepo) (string, int) {
		w.write("run.sh", "#!/bin/sh\necho hi\n")
		w.chmod("run.sh", 0o755)
		w.commit("base")
		w.write("run.sh", "#!/bin/sh\necho hi there\n")
		w.chmod("run.sh", 0o755)
		c := w.commit("edit")
		w.chmod("run.sh", 0o644)
		w.commit("not executable")
		return c, 0
	}},
	{"merge commit mainline 1", func(w *workRepo) (string, int) {
		return buildMerge(w), 1
	}},
	{"merge commit mainline 2", func(w *workRepo) (string, int) {
		return buildMerge(w), 2
	}},
	{"repeated YAML lines", func(w *workRepo) (string, int) {
		w.write("prod/kustomization.yaml", kustomization("v1", "v1", "v1", "v1", "v1", "v1"))
		w.commit("base")
		w.write("prod/kustomization.yaml", kustomization("v1", "v1", "v2", "v1", "v1", "v1"))
		c := w.commit("promote 3rd to v2")
		w.write("prod/kustomization.yaml", kustomization("v1", "v1", "v2", "v1", "v1", "v3"))
		w.commit("promote 6th to v3")
		return c, 0
	}},
	{"repeated YAML lines inserted block", func(w *workRepo) (string, int) {
		w.write("prod/kustomization.yaml", kustomization("v1", "v1", "v1", "v1"))
		w.commit("base")
		w.write("prod/kustomization.yaml", kustomization("v1", "v1", "v1", "v1", "v1"))
		c := w.commit("add a block")
		w.write("prod/kustomization.yaml", kustomization("v1", "v2", "v1", "v1", "v1"))
		w.commit("bump second")
		return c, 0
	}},
	{"no trailing newline", func(w *workRepo) (string, int) {
		w.write("a.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven")
		w.commit("base")
		w.write("a.txt", "one\ntwo\nthree\nfour\nfive\nsix\nSEVEN")
		c := w.commit("change last line")
		w.write("a.txt", "ONE\ntwo\nthree\nfour\nfive\nsix\nSEVEN")
		w.commit("change first line")
		return c, 0
	}},
	{"CRLF", func(w *workRepo) (string, int) {
		w.write("win.txt", "one\r\ntwo\r\nthree\r\nfour\r\nfive\r\nsix\r\n")
		w.commit("base")
		w.write("win.txt", "one\r\nTWO\r\nthree\r\nfour\r\nfive\r\nsix\r\n")
		c := w.commit("change two")
		w.write("win.txt", "one\r\nTWO\r\nthree\r\nfour\r\nfive\r\nSIX\r\n")
		w.commit("change six")
		return c, 0
	}},
	{"nested new directory", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("apps/prod/new/deep/file.yaml", "x: 1\n")
		w.write("apps/prod/new/other.yaml", "y: 1\n")
		c := w.commit("add nested")
		w.write("a.txt", "a2\n")
		w.commit("later")
		return c, 0
	}},
	{"symlink", func(w *workRepo) (string, int) {
		w.write("target1", "1\n")
		w.write("target2", "2\n")
		w.symlink("link", "target1")
		w.commit("base")
		w.symlink("link", "target2")
		return w.commit("retarget link"), 0
	}},
	{"symlink changed again later", func(w *workRepo) (string, int) {
		w.symlink("link", "target1")
		w.commit("base")
		w.symlink("link", "target2")
		c := w.commit("retarget link")
		w.symlink("link", "target3")
		w.commit("retarget link again")
		return c, 0
	}},
	{"file replaced by directory later", func(w *workRepo) (string, int) {
		w.write("conf", "v1\n")
		w.commit("base")
		w.write("conf", "v2\n")
		c := w.commit("edit conf")
		w.rm("conf")
		w.write("conf/file", "inside\n")
		w.commit("conf becomes a directory")
		return c, 0
	}},
	{"file became a directory, directory deleted later", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.write("conf", "v1\n")
		w.commit("base")
		w.rm("conf")
		w.write("conf/file", "inside\n")
		c := w.commit("conf becomes a directory")
		w.rm("conf")
		w.commit("drop conf")
		return c, 0
	}},
	{"directory became a file, file deleted later", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.write("conf/x", "x\n")
		w.write("conf/sub/y", "y\n")
		w.commit("base")
		w.rm("conf")
		w.write("conf", "now a file\n")
		c := w.commit("conf becomes a file")
		w.rm("conf")
		w.commit("drop conf")
		return c, 0
	}},
	{"directory became a file, then another directory", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.write("conf/x", "x\n")
		w.commit("base")
		w.rm("conf")
		w.write("conf", "now a file\n")
		c := w.commit("conf becomes a file")
		w.rm("conf")
		w.write("conf/z", "z\n")
		w.commit("conf is a directory again")
		return c, 0
	}},
	{"added directory replaced by a file later", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.commit("base")
		w.write("conf/x", "x\n")
		c := w.commit("add conf/")
		w.rm("conf")
		w.write("conf", "a file\n")
		w.commit("conf becomes a file")
		return c, 0
	}},
	{"file became a directory, its files edited later", func(w *workRepo) (string, int) {
		w.write("a.txt", "a\n")
		w.write("conf", "v1\n")
		w.commit("base")
		w.rm("conf")
		w.write("conf/file", "inside\n")
		w.write("conf/keep", "keep\n")
		c := w.commit("conf becomes a directory")
		w.write("conf/file", "edited\n")
		w.commit("edit conf/file")
		return c, 0
	}},
	{"already reverted", func(w *workRepo) (string, int) {
		w.write("a.txt", lines(10, nil))
		w.commit("base")
		w.write("a.txt", lines(10, map[int]string{2: "two"}))
		c := w.commit("change")
		w.git("revert", "--no-edit", c)
		return c, 0
	}},
}

// buildMerge makes a merge commit whose two sides changed different files.
func buildMerge(w *workRepo) string {
	w.write("main.txt", lines(10, nil))
	w.write("side.txt", lines(10, nil))
	w.commit("base")
	w.git("checkout", "-q", "-b", "feature")
	w.write("side.txt", lines(10, map[int]string{4: "feature"}))
	w.write("feature-only.txt", "f\n")
	w.commit("feature work")
	w.git("checkout", "-q", "main")
	w.write("main.txt", lines(10, map[int]string{7: "main"}))
	w.commit("main work")
	w.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
	c := w.head()
	w.write("main.txt", lines(10, map[int]string{7: "main", 9: "later"}))
	w.commit("after merge")
	return c
}

// oracleRevert runs git revert in w and returns the tree, or the conflicting
// paths, or alreadyReverted.
type oracleResult struct {
	tree            string
	conflicts       []string
	alreadyReverted bool
}

func oracleRevert(t *testing.T, w *workRepo, sha string, mainline int) oracleResult {
	t.Helper()
	args := []string{"revert", "--no-edit"}
	if mainline > 0 {
		args = append(args, "-m", fmt.Sprint(mainline))
	}
	out, err := tryGit(w.dir, nil, append(args, sha)...)
	if err == nil {
		return oracleResult{tree: w.git("rev-parse", "HEAD^{tree}")}
	}
	msg := err.Error()
	if strings.Contains(msg, "nothing to commit") {
		return oracleResult{alreadyReverted: true}
	}
	if !strings.Contains(msg, "CONFLICT") && !strings.Contains(msg, "could not revert") {
		t.Fatalf("git revert failed unexpectedly: %v\n%s", err, out)
	}
	// Unmerged paths, plus paths git renamed aside for file/directory clashes.
	var paths []string
	for _, p := range strings.Split(w.git("diff", "--name-only", "--diff-filter=U"), "\n") {
		// git parks one side of a file/directory clash at "path~side".
		if p, _, _ = strings.Cut(p, "~"); p != "" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	w.git("revert", "--abort")
	return oracleResult{conflicts: paths}
}

func TestRevertScenariosMatchGit(t *testing.T) {
	gs := newGitServer(t)
	for i, sc := range allScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			w := newWorkRepo(t)
			sha, mainline := sc.build(w)
			head := w.head()
			url := gs.publish(t, w.dir, fmt.Sprintf("scenario%d", i))
			r := openCache(t, url)
			ctx := testCtx(t)
			if _, err := r.Fetch(ctx, FetchOptions{Branches: []string{"main"}}); err != nil {
				t.Fatal(err)
			}
			tree, err := r.RevertTree(ctx, hash(head), RevertRequest{Commit: hash(sha), Mainline: mainline, Author: botIdentity})
			want := oracleRevert(t, w, sha, mainline)
			var ce *ConflictError
			switch {
			case want.alreadyReverted:
				if !errors.Is(err, ErrAlreadyReverted) {
					t.Fatalf("git says already reverted; ensign: tree %s, err %v", tree, err)
				}
			case want.conflicts != nil:
				if !errors.As(err, &ce) {
					t.Fatalf("git conflicts on %v; ensign: tree %s, err %v", want.conflicts, tree, err)
				}
				if got := ce.Paths(); strings.Join(got, ",") != strings.Join(want.conflicts, ",") {
					t.Fatalf("conflicting paths: ensign %v (%v), git %v", got, ce, want.conflicts)
				}
				t.Logf("conflict as git: %v", ce)
			default:
				if err != nil {
					t.Fatalf("git reverts cleanly to tree %s; ensign: %v", want.tree, err)
				}
				if tree.String() != want.tree {
					t.Fatalf("tree: ensign %s, git %s", tree, want.tree)
				}
			}
		})
	}
}
