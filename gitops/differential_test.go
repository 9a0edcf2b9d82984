package gitops

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// yamlVocab is a small vocabulary, so files are full of repeated lines the
// way Kustomize overlays are.
var yamlVocab = []string{
	"images:", "- name: app", "  newName: registry.example.com/app", "  newTag: v1", "  newTag: v2",
	"  newTag: v3", "", "---", "spec:", "  replicas: 2", "  replicas: 3", "metadata:", "  labels:",
	"    app: web", "resources:", "  - ../../base",
}

func randLines(rng *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		if rng.Intn(3) == 0 { // a repeated block
			out = append(out, "- name: app", "  newTag: v1")
			continue
		}
		out = append(out, yamlVocab[rng.Intn(len(yamlVocab))])
	}
	return out
}

// mutate applies 1-3 random hunks: replace, insert or delete a few lines.
func mutate(rng *rand.Rand, ls []string) []string {
	out := append([]string(nil), ls...)
	for h := rng.Intn(3) + 1; h > 0; h-- {
		pos := rng.Intn(len(out) + 1)
		switch rng.Intn(3) {
		case 0: // replace
			if pos < len(out) {
				out[pos] = yamlVocab[rng.Intn(len(yamlVocab))]
			}
		case 1: // insert
			ins := randLines(rng, rng.Intn(3)+1)
			out = append(out[:pos], append(ins, out[pos:]...)...)
		case 2: // delete
			if n := rng.Intn(2) + 1; pos+n <= len(out) && len(out) > n {
				out = append(out[:pos], out[pos+n:]...)
			}
		}
	}
	return out
}

func render(ls []string, eol bool) string {
	s := strings.Join(ls, "\n")
	if eol {
		s += "\n"
	}
	return s
}

// history is a generated linear history written with git fast-import.
type history struct {
	branch string
	stream bytes.Buffer
	marks  int
	files  map[string][]string
	eol    map[string]bool
}

func (h *history) commit(msg string, changes map[string]*string) {
	h.marks++
	fmt.Fprintf(&h.stream, "commit refs/heads/%s\nmark :%d\ncommitter T <t@example.com> %d +0000\ndata %d\n%s\n", h.branch, h.marks, 1700000000+h.marks, len(msg), msg)
	if h.marks > 1 {
		fmt.Fprintf(&h.stream, "from :%d\n", h.marks-1)
	}
	paths := make([]string, 0, len(changes))
	for p := range changes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// Deletions first, so that a file can replace a directory (and back)
	// within one commit.
	for _, p := range paths {
		if changes[p] == nil {
			fmt.Fprintf(&h.stream, "D %s\n", p)
		}
	}
	for _, p := range paths {
		if c := changes[p]; c != nil {
			fmt.Fprintf(&h.stream, "M 100644 inline %s\ndata %d\n%s\n", p, len(*c), *c)
		}
	}
	h.stream.WriteString("\n")
}

// genCase builds: a base commit, the target commit (modify + add or delete),
// and 0-3 later commits (modify or delete, never add, so that git's rename
// detection cannot pair files and the comparison stays path-based).
func genCase(rng *rand.Rand, branch string) (*history, int) {
	h := &history{branch: branch, files: map[string][]string{}, eol: map[string]bool{}}
	nfiles := rng.Intn(3) + 1
	base := map[string]*string{}
	for i := 0; i < nfiles; i++ {
		p := fmt.Sprintf("apps/f%d.yaml", i)
		if rng.Intn(3) == 0 {
			p = fmt.Sprintf("apps/sub/f%d.yaml", i)
		}
		h.files[p] = randLines(rng, rng.Intn(30)+8)
		h.eol[p] = rng.Intn(6) != 0
		s := render(h.files[p], h.eol[p])
		base[p] = &s
	}
	h.commit("base", base)
	change := func(allowAdd, allowDelete bool) map[string]*string {
		ch := map[string]*string{}
		for p, ls := range h.files {
			if rng.Intn(2) == 0 {
				continue
			}
			if allowDelete && rng.Intn(8) == 0 && len(h.files) > 1 {
				ch[p] = nil
				delete(h.files, p)
				allowDelete = false
				continue
			}
			h.files[p] = mutate(rng, ls)
			if rng.Intn(10) == 0 {
				h.eol[p] = !h.eol[p]
			}
			s := render(h.files[p], h.eol[p])
			ch[p] = &s
		}
		if allowAdd && rng.Intn(5) == 0 {
			p := fmt.Sprintf("apps/new%d.yaml", h.marks)
			h.files[p], h.eol[p] = randLines(rng, rng.Intn(10)+3), true
			s := render(h.files[p], true)
			ch[p] = &s
		}
		return ch
	}
	add := rng.Intn(2) == 0
	ch := change(add, !add)
	for len(ch) == 0 { // the reverted commit must change something
		ch = change(add, !add)
	}
	h.commit("target", ch)
	target := h.marks
	for i := rng.Intn(4); i > 0; i-- {
		h.commit(fmt.Sprintf("later %d", i), change(false, true))
	}
	return h, target
}

// TestRevertDifferentialVsGit compares ensign's revert with git revert on
// random YAML-like histories. ENSIGN_DIFF_CASES sets the case count (default
// 300), ENSIGN_DIFF_SEED the seed. Disagreements are saved for replay.
func TestRevertDifferentialVsGit(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	cases := envInt("ENSIGN_DIFF_CASES", 300)
	seed, rng, dump := diffSeed(t)
	var agree, clean, conflicts, already, disagree int
	r := newDiffRunner(t)
	r.each(cases, func(i int) (*history, int) { return genCase(rng, fmt.Sprintf("case%d", i)) },
		func(i int, h *history, target int, c caseResult) {
			got, want := c.got, c.want
			switch {
			case got == want:
				agree++
				switch {
				case strings.HasPrefix(want, "conflict"):
					conflicts++
				case want == "already reverted":
					already++
				default:
					clean++
				}
			default:
				disagree++
				p := keepCase(dump, fmt.Sprintf("case-%d-seed-%d.fi", i, seed), h)
				t.Errorf("case %d: ensign %q, git %q (fast-import stream with mark :%d as target saved to %s)", i, got, want, target, p)
			}
		})
	r.logTime()
	t.Logf("seed %d: %d cases, %d agree (%d clean, %d conflict, %d already reverted), %d disagree", seed, cases, agree, clean, conflicts, already, disagree)
}

func markSHA(marksFile string, mark int) (string, error) {
	b, err := os.ReadFile(marksFile)
	if err != nil {
		return "", err
	}
	prefix := ":" + strconv.Itoa(mark) + " "
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimPrefix(line, prefix), nil
		}
	}
	return "", fmt.Errorf("mark %d not found", mark)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// conflictPaths turns git's unmerged paths into ensign's report: a file git
// parked beside a directory ("path~side") is reported as path.
func conflictPaths(gitList string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range strings.Split(gitList, "\n") {
		if p, _, _ = strings.Cut(strings.TrimSpace(p), "~"); p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
