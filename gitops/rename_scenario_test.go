package gitops

// renameScenarios are the rename shapes a GitOps revert meets, checked
// against git revert by TestRevertScenariosMatchGit.
var renameScenarios = []scenario{
	{"edit reverted after the file was renamed", func(w *workRepo) (string, int) {
		w.write("apps/web/prod.yaml", kustomization("v1", "v1"))
		w.commit("base")
		w.write("apps/web/prod.yaml", kustomization("v2", "v1"))
		c := w.commit("promote v2")
		w.git("mv", "apps/web/prod.yaml", "apps/web/production.yaml")
		w.commit("rename overlay")
		return c, 0
	}},
	{"edit reverted after the directory was moved", func(w *workRepo) (string, int) {
		w.write("apps/web/overlays/prod/kustomization.yaml", kustomization("v1", "v1"))
		w.write("apps/web/overlays/prod/replicas.yaml", lines(6, nil))
		w.write("apps/web/base/deployment.yaml", lines(12, nil))
		w.commit("base")
		w.write("apps/web/overlays/prod/kustomization.yaml", kustomization("v1", "v2"))
		c := w.commit("promote v2")
		w.write("teams/red/README.md", "red team\n")
		w.git("mv", "apps/web", "teams/red/web")
		w.commit("move web under teams/red")
		return c, 0
	}},
	{"edit reverted after rename with edits (inexact)", func(w *workRepo) (string, int) {
		w.write("a.yaml", lines(30, nil))
		w.commit("base")
		w.write("a.yaml", lines(30, map[int]string{3: "three"}))
		c := w.commit("change line 3")
		w.rm("a.yaml")
		w.write("b.yaml", lines(30, map[int]string{3: "three", 25: "twenty-five", 26: "twenty-six"}))
		w.commit("rename and edit")
		return c, 0
	}},
	{"rewritten beyond 50 % after the rename: modify/delete", func(w *workRepo) (string, int) {
		w.write("a.yaml", lines(10, nil))
		w.commit("base")
		w.write("a.yaml", lines(10, map[int]string{3: "three"}))
		c := w.commit("change line 3")
		w.rm("a.yaml")
		w.write("b.yaml", lines(10, map[int]string{1: "x", 2: "x", 4: "x", 5: "x", 6: "x", 7: "x", 8: "x"}))
		w.commit("rename and rewrite")
		return c, 0
	}},
	{"revert of a rename, file edited later", func(w *workRepo) (string, int) {
		w.write("old.yaml", lines(20, nil))
		w.commit("base")
		w.git("mv", "old.yaml", "new.yaml")
		c := w.commit("rename")
		w.write("new.yaml", lines(20, map[int]string{18: "eighteen"}))
		w.commit("edit")
		return c, 0
	}},
	{"revert of an addition renamed later: rename/delete", func(w *workRepo) (string, int) {
		w.write("keep.yaml", "keep\n")
		w.commit("base")
		w.write("added.yaml", lines(8, nil))
		c := w.commit("add")
		w.git("mv", "added.yaml", "moved.yaml")
		w.commit("rename")
		return c, 0
	}},
	{"deletion reverted into a renamed directory: file location", func(w *workRepo) (string, int) {
		w.write("d/a.yaml", lines(8, nil))
		w.write("d/b.yaml", lines(9, map[int]string{1: "b"}))
		w.write("d/gone.yaml", lines(7, map[int]string{1: "gone"}))
		w.commit("base")
		w.rm("d/gone.yaml")
		c := w.commit("delete gone")
		w.git("mv", "d", "e")
		w.commit("rename d to e")
		return c, 0
	}},
	{"revert of a rename renamed again: rename/rename", func(w *workRepo) (string, int) {
		w.write("one.yaml", lines(12, nil))
		w.commit("base")
		w.git("mv", "one.yaml", "two.yaml")
		c := w.commit("one to two")
		w.git("mv", "two.yaml", "three.yaml")
		w.commit("two to three")
		return c, 0
	}},
	// Two identical copies compete for one rename. The copies sit in
	// directories git only walks after the main traversal, in the order of
	// its string hash map: "beta" (bucket 23 of 64) before "alpha" (27),
	// the reverse of name order, so the revert must land in beta.
	{"tie between renamed copies decided by git's hash map order", func(w *workRepo) (string, int) {
		w.write("a/x.yaml", lines(12, nil))
		w.write("alpha/keep.yaml", "alpha\n")
		w.write("beta/keep.yaml", "beta\n")
		w.commit("base")
		w.write("a/x.yaml", lines(12, map[int]string{4: "four"}))
		c := w.commit("change x")
		w.write("alpha/x.yaml", lines(12, map[int]string{4: "four"}))
		w.write("beta/x.yaml", lines(12, map[int]string{4: "four"}))
		w.rm("a/x.yaml")
		w.commit("x copied twice, original removed")
		return c, 0
	}},
}

func allScenarios() []scenario {
	return append(append([]scenario(nil), scenarios...), renameScenarios...)
}
