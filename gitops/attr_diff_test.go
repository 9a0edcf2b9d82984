package gitops

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// attrLines are .gitattributes lines a GitOps repository might carry.
var attrLines = []string{
	"*.yaml -merge", "*.yaml merge=binary", "*.yaml binary", "apps/*.yaml merge=text", "*.md merge=union",
	"*.yaml merge=custom", "*.yaml -diff", "* text=auto", "*.yaml text eol=crlf", "*.yaml -text",
	"*.yaml eol=lf", "*.md ident", "apps/sub/** -merge", "[attr]locked -merge -diff", "*.lock locked",
	"f1.yaml !merge", "*.yaml crlf", "*.yaml working-tree-encoding=UTF-8",
}

func genAttributes(rng *rand.Rand) string {
	var b strings.Builder
	for n := rng.Intn(3) + 1; n > 0; n-- {
		b.WriteString(pick(rng, attrLines) + "\n")
	}
	return b.String()
}

// genAttrCase is a history of edits (some with CRLF line ends) under a
// .gitattributes that sets merge drivers, binary or text conversions;
// later commits may change the attributes or rename a file.
func genAttrCase(rng *rand.Rand, branch string) (*history, int) {
	h := &history{branch: branch}
	t := treeState{".gitattributes": genAttributes(rng)}
	if rng.Intn(4) == 0 {
		t["apps/sub/.gitattributes"] = genAttributes(rng)
	}
	names := []string{"apps/f0.yaml", "apps/f1.yaml", "apps/sub/f2.yaml", "apps/notes.md", "apps/x.lock"}
	for _, p := range names[:rng.Intn(len(names))+1] {
		c := render(randLines(rng, rng.Intn(20)+6), true)
		if rng.Intn(4) == 0 {
			c = strings.ReplaceAll(c, "\n", "\r\n")
		}
		t[p] = c
	}
	h.commit("base", changes(treeState{}, t))
	edit := func(next treeState) {
		p := pick(rng, next.paths())
		if strings.HasSuffix(p, ".gitattributes") {
			next[p] = genAttributes(rng)
			return
		}
		crlf := strings.Contains(next[p], "\r\n")
		ls := strings.Split(strings.TrimSuffix(strings.ReplaceAll(next[p], "\r\n", "\n"), "\n"), "\n")
		c := render(mutate(rng, ls), true)
		if crlf != (rng.Intn(10) == 0) {
			c = strings.ReplaceAll(c, "\n", "\r\n")
		}
		next[p] = c
	}
	for {
		next := t.clone()
		edit(next)
		if ch := changes(t, next); len(ch) > 0 {
			h.commit("target", ch)
			t = next
			break
		}
	}
	target := h.marks
	for i := rng.Intn(3); i > 0; i-- {
		next := t.clone()
		if rng.Intn(5) == 0 {
			applyOp(rng, next, true)
		} else {
			edit(next)
		}
		h.commit(fmt.Sprintf("later %d", i), changes(t, next))
		t = next
	}
	return h, target
}

// TestRevertAttributesDifferentialVsGit reverts histories that carry
// .gitattributes with ensign and git. Where ensign declines (union or
// custom merge drivers, which it does not run) it must say so with an
// *AttributeError; every other case must give git's result.
// ENSIGN_ATTR_CASES sets the case count (default 150).
func TestRevertAttributesDifferentialVsGit(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	cases := envInt("ENSIGN_ATTR_CASES", 150)
	seed, rng, dump := diffSeed(t)
	r := newDiffRunner(t)
	var agree, declined, gitRefused, conflicts int
	r.each(cases, func(i int) (*history, int) { return genAttrCase(rng, fmt.Sprintf("case%d", i)) },
		func(i int, h *history, target int, c caseResult) {
			var ae *AttributeError
			if c.gitRefused != "" {
				gitRefused++
			}
			switch {
			case c.got == c.want:
				agree++
				if strings.HasPrefix(c.want, "conflict") {
					conflicts++
				}
			case errors.As(c.err, &ae):
				declined++
			default:
				p := keepCase(dump, fmt.Sprintf("attr-case-%d-seed-%d.fi", i, seed), h)
				t.Errorf("case %d: ensign %q, git %q (stream, target mark :%d, in %s)", i, c.got, c.want, target, p)
			}
		})
	r.logTime()
	t.Logf("seed %d: %d attribute cases: %d agree (%d conflicts), %d declined by ensign with an AttributeError; git revert refused %d (worktree looks dirty under the attributes), compared with git merge-tree instead", seed, cases, agree, conflicts, declined, gitRefused)
}
