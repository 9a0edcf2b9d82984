package textmerge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The git CLI is the oracle of the differential tests (never used by the
// package itself). Every git call runs with an empty configuration, so a
// developer's merge.conflictStyle or diff settings cannot leak in.

type mergeCase struct{ base, ours, theirs []byte }

// oracleResult is git's answer for one case.
type oracleResult struct {
	merged    []byte // clean result, or the file with conflict markers
	conflicts int    // conflict hunks; for merge-file only 0 or "some"
}

type gitRunner struct {
	git string
	dir string
	env []string
}

func newGitRunner(t *testing.T) *gitRunner {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not on PATH: the differential test needs the git CLI as its oracle")
	}
	dir := t.TempDir()
	env := append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"HOME="+dir,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid",
		"LC_ALL=C",
	)
	return &gitRunner{git: git, dir: dir, env: env}
}

// run returns stdout and the exit code; it fails the test if git could
// not be started at all.
func (g *gitRunner) run(t *testing.T, stdin []byte, args ...string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command(g.git, args...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	}
	t.Fatalf("git %v: %v: %s", args, err, stderr.Bytes())
	return nil, -1
}

func (g *gitRunner) mustRun(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	out, code := g.run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("git %v: exit %d", args, code)
	}
	return out
}

// mergeFile asks `git merge-file -p ours base theirs` (Myers diff).
func (g *gitRunner) mergeFile(t *testing.T, c mergeCase) oracleResult {
	t.Helper()
	for name, data := range map[string][]byte{"base": c.base, "ours": c.ours, "theirs": c.theirs} {
		if err := os.WriteFile(filepath.Join(g.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := g.run(t, nil, "merge-file", "-p", "ours", "base", "theirs")
	if code < 0 || code > 127 {
		t.Fatalf("git merge-file failed with exit %d", code)
	}
	return oracleResult{merged: out, conflicts: code}
}

func fileName(i int) string { return fmt.Sprintf("f%05d", i) }

// fastImport writes one commit per tree, each child of the previous one
// when chain is set, otherwise each child of the first.
func (g *gitRunner) fastImport(t *testing.T, chain bool, trees ...[][]byte) {
	t.Helper()
	var s bytes.Buffer
	for k, files := range trees {
		fmt.Fprintf(&s, "commit refs/heads/c%d\nmark :%d\ncommitter t <t@example.invalid> %d +0000\ndata 2\nc%d\n", k, k+1, 1700000000+k, k)
		switch {
		case k > 0 && chain:
			fmt.Fprintf(&s, "from :%d\n", k)
		case k > 0:
			s.WriteString("from :1\n")
		}
		for i, data := range files {
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n", fileName(i), len(data))
			s.Write(data)
			s.WriteByte('\n')
		}
		s.WriteByte('\n')
	}
	g.mustRun(t, s.Bytes(), "fast-import", "--quiet")
}

func (g *gitRunner) initRepo(t *testing.T) {
	t.Helper()
	g.mustRun(t, nil, "init", "-q", "-b", "main", ".")
}

// readTree returns every blob of a tree by file index.
func (g *gitRunner) readTree(t *testing.T, tree string, n int) [][]byte {
	t.Helper()
	out := g.mustRun(t, nil, "ls-tree", "-r", "--format=%(objectname)", tree)
	ls := bytes.Fields(out)
	if len(ls) != n {
		t.Fatalf("tree %s has %d files, want %d", tree, len(ls), n)
	}
	batch := g.mustRun(t, append(bytes.Join(ls, []byte("\n")), '\n'), "cat-file", "--batch")
	r := bufio.NewReader(bytes.NewReader(batch))
	blobs := make([][]byte, n)
	for i := range blobs {
		hdr, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		f := bytes.Fields(hdr)
		size, err := strconv.Atoi(string(f[2]))
		if err != nil {
			t.Fatal(err)
		}
		blobs[i] = make([]byte, size+1)
		if _, err := io.ReadFull(r, blobs[i]); err != nil {
			t.Fatal(err)
		}
		blobs[i] = blobs[i][:size]
	}
	return blobs
}

// countMarkers counts conflict hunks in a file git wrote with markers.
func countMarkers(b []byte) int {
	n := 0
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("<<<<<<< ")) {
			n++
		}
	}
	return n
}

// mergeTree runs merge-ort through `git merge-tree --write-tree` on a batch
// of cases, one file per case, in a fresh repository.
func (g *gitRunner) mergeTree(t *testing.T, cases []mergeCase) []oracleResult {
	t.Helper()
	g.initRepo(t)
	var base, ours, theirs [][]byte
	for _, c := range cases {
		base, ours, theirs = append(base, c.base), append(ours, c.ours), append(theirs, c.theirs)
	}
	g.fastImport(t, false, base, ours, theirs)
	out, code := g.run(t, nil, "merge-tree", "--write-tree", "--no-messages", "--name-only", "c1", "c2")
	if code != 0 && code != 1 {
		t.Fatalf("git merge-tree: exit %d", code)
	}
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	conflicted := map[string]bool{}
	for _, l := range lines[1:] {
		conflicted[string(l)] = true
	}
	blobs := g.readTree(t, string(lines[0]), len(cases))
	res := make([]oracleResult, len(cases))
	for i, b := range blobs {
		res[i].merged = b
		if conflicted[fileName(i)] {
			res[i].conflicts = countMarkers(b)
			if res[i].conflicts == 0 {
				t.Fatalf("%s: conflicted but no markers", fileName(i))
			}
		}
	}
	return res
}

// revert runs a real `git revert` of a commit whose parent holds theirs
// and whose own tree holds base, on top of a commit holding ours: the
// exact three-way content merge ensign's revert must reproduce.
func (g *gitRunner) revert(t *testing.T, cases []mergeCase) []oracleResult {
	t.Helper()
	g.initRepo(t)
	var base, ours, theirs [][]byte
	for _, c := range cases {
		base, ours, theirs = append(base, c.base), append(ours, c.ours), append(theirs, c.theirs)
	}
	g.fastImport(t, true, theirs, base, ours)
	g.mustRun(t, nil, "checkout", "-q", "c2")
	_, code := g.run(t, nil, "revert", "--no-edit", "c1")
	if code != 0 && code != 1 {
		t.Fatalf("git revert: exit %d", code)
	}
	unmerged := map[string]bool{}
	out := g.mustRun(t, nil, "diff", "--name-only", "--diff-filter=U")
	for _, l := range bytes.Fields(out) {
		unmerged[string(l)] = true
	}
	if (code == 1) != (len(unmerged) > 0) {
		t.Fatalf("git revert exit %d but %d unmerged paths", code, len(unmerged))
	}
	res := make([]oracleResult, len(cases))
	for i := range cases {
		b, err := os.ReadFile(filepath.Join(g.dir, fileName(i)))
		if err != nil {
			t.Fatal(err)
		}
		res[i].merged = b
		if unmerged[fileName(i)] {
			res[i].conflicts = countMarkers(b)
		}
	}
	return res
}
