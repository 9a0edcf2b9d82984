package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// diffRunner reverts generated histories with ensign and with git revert.
// Cases are generated, imported (one git fast-import per batch, each case
// on its own branch) and reverted in batches of diffBatch, each batch in a
// fresh scratch repository.
type diffRunner struct {
	t     *testing.T
	dir   string
	spent [3]time.Duration // setup, ensign, git
	// renameLimit, when set, is given to both: ensign's merge and git's
	// merge.renameLimit.
	renameLimit int
}

const diffBatch = 50

// caseResult is one case's outcome on both sides, as comparable strings:
// "tree <hash>", "conflict <unmerged paths>", "already reverted",
// "git aborts" or "error ...".
type caseResult struct {
	got, want string
	err       error  // ensign's error, if any
	gitOut    string // what git revert printed
	// gitRefused is why git revert would not start, if it did not; want
	// then comes from git merge-tree.
	gitRefused string
	sha, head  string
	renamed    bool // git diff -M pairs paths in one of the revert's two diffs
}

// diffSeed returns the differential tests' seed (ENSIGN_DIFF_SEED), a
// generator seeded with it, and the directory disagreeing cases are kept
// in (ENSIGN_DIFF_DUMP, else a temporary one).
func diffSeed(t *testing.T) (int64, *rand.Rand, string) {
	seed := int64(envInt("ENSIGN_DIFF_SEED", 20260102))
	dump := os.Getenv("ENSIGN_DIFF_DUMP")
	if dump == "" {
		dump = t.TempDir()
	}
	return seed, rand.New(rand.NewSource(seed)), dump
}

// keepCase saves a case's fast-import stream as dir/name, for replay
// (TestReplayDump), and returns its path.
func keepCase(dir, name string, h *history) string {
	p := filepath.Join(dir, name)
	_ = os.WriteFile(p, h.stream.Bytes(), 0o644)
	return p
}

func newDiffRunner(t *testing.T) *diffRunner {
	return &diffRunner{t: t}
}

func (r *diffRunner) logTime() {
	r.t.Logf("time: setup %v, ensign %v, git %v", r.spent[0], r.spent[1], r.spent[2])
}

// each generates n cases with gen (in order, so a seed always gives the
// same cases) and hands each result to check.
func (r *diffRunner) each(n int, gen func(i int) (*history, int), check func(i int, h *history, target int, c caseResult)) {
	r.t.Helper()
	for start := 0; start < n; start += diffBatch {
		var hs []*history
		var targets []int
		for i := start; i < min(n, start+diffBatch); i++ {
			h, target := gen(i)
			hs, targets = append(hs, h), append(targets, target)
		}
		res, err := r.runBatch(hs, targets)
		if err != nil {
			r.t.Fatalf("cases %d-%d: %v", start, start+len(hs)-1, err)
		}
		for k, c := range res {
			check(start+k, hs[k], targets[k], c)
		}
	}
}

func (r *diffRunner) runBatch(hs []*history, targets []int) ([]caseResult, error) {
	t0 := time.Now()
	r.dir = r.t.TempDir()
	dir := r.dir
	if _, err := tryGit(dir, nil, "init", "-q", "--template=", "-b", "main"); err != nil {
		return nil, err
	}
	// One stream for the batch: every case's marks are shifted past the
	// previous case's.
	var stream bytes.Buffer
	offsets := make([]int, len(hs))
	off := 0
	for k, h := range hs {
		offsets[k] = off
		stream.Write(shiftMarks(h.stream.Bytes(), off))
		off += h.marks
	}
	marks := filepath.Join(dir, ".git", "marks")
	if _, err := tryGit(dir, stream.Bytes(), "fast-import", "--quiet", "--export-marks="+marks); err != nil {
		return nil, err
	}
	res := make([]caseResult, len(hs))
	var stdin strings.Builder
	for k, h := range hs {
		var err error
		if res[k].sha, err = markSHA(marks, offsets[k]+targets[k]); err != nil {
			return nil, err
		}
		if res[k].head, err = markSHA(marks, offsets[k]+h.marks); err != nil {
			return nil, err
		}
		fmt.Fprintf(&stdin, "%s\n%s %s\n", res[k].sha, res[k].sha, res[k].head)
	}
	if err := r.classify(res, stdin.String()); err != nil {
		return nil, err
	}
	t1 := time.Now()
	r.spent[0] += t1.Sub(t0)
	if err := r.revertWithEnsign(res); err != nil {
		return nil, err
	}
	t2 := time.Now()
	r.spent[1] += t2.Sub(t1)
	defer func() { r.spent[2] += time.Since(t2) }()
	for k, h := range hs {
		if err := r.revertWithGit(h.branch, &res[k]); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// shiftMarks renumbers the ":<n>" marks of a fast-import stream by off.
func shiftMarks(stream []byte, off int) []byte {
	if off == 0 {
		return stream
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(stream, []byte("\n")) {
		for _, prefix := range []string{"mark :", "from :"} {
			if rest, ok := bytes.CutPrefix(line, []byte(prefix)); ok {
				n, err := strconv.Atoi(strings.TrimSpace(string(rest)))
				if err == nil {
					line = []byte(fmt.Sprintf("%s%d\n", prefix, n+off))
				}
			}
		}
		out.Write(line)
	}
	return out.Bytes()
}

// classify marks the cases where git's rename detection (git diff -M)
// pairs paths between the reverted commit and its parent or the branch
// tip: the two diffs a revert merges.
func (r *diffRunner) classify(res []caseResult, stdin string) error {
	out, err := tryGit(r.dir, []byte(stdin), "diff-tree", "--stdin", "--always", "-r", "-M", "--diff-filter=R", "--name-only")
	if err != nil {
		return err
	}
	// --always prints a header line (the commit) for both diffs of every
	// case, in order; what follows a header belongs to that diff.
	headers := -1
	for _, line := range strings.Split(out, "\n") {
		if k := (headers + 1) / 2; k < len(res) && line == res[k].sha {
			headers++
			continue
		}
		if line != "" && headers >= 0 {
			res[headers/2].renamed = true
		}
	}
	return nil
}

func (r *diffRunner) revertWithEnsign(res []caseResult) error {
	// ensign reads the git-made repository directly as its object store.
	ctx := testCtx(r.t)
	repo, err := Open(ctx, Options{Dir: filepath.Join(r.dir, ".git"), URL: "http://127.0.0.1:1/unused.git"})
	if err != nil {
		return err
	}
	defer repo.Close()
	if r.renameLimit > 0 {
		old := mergeRenameLimit
		mergeRenameLimit = r.renameLimit
		defer func() { mergeRenameLimit = old }()
	}
	for k := range res {
		c := &res[k]
		tree, rerr := repo.RevertTree(ctx, hash(c.head), RevertRequest{Commit: hash(c.sha), Author: botIdentity})
		c.got, c.err = outcome(tree.String(), rerr), rerr
	}
	return nil
}

func (r *diffRunner) revertWithGit(branch string, c *caseResult) error {
	dir := r.dir
	if _, err := tryGit(dir, nil, "checkout", "-q", "-f", branch); err != nil {
		return err
	}
	args := []string{"revert", "--no-edit", c.sha}
	if r.renameLimit > 0 {
		args = append([]string{"-c", "merge.renameLimit=" + strconv.Itoa(r.renameLimit)}, args...)
	}
	out, gerr := combinedGit(dir, args...)
	c.gitOut = out
	switch {
	case gerr == nil:
		wt, err := tryGit(dir, nil, "rev-parse", "HEAD^{tree}")
		if err != nil {
			return err
		}
		c.want = "tree " + wt
	case strings.Contains(out, "nothing to commit"):
		c.want = "already reverted"
	case strings.Contains(out, "Assertion"):
		// git 2.39's merge-ort aborts; it leaves its index lock behind.
		_ = os.Remove(filepath.Join(dir, ".git", "index.lock"))
		c.want = "git aborts"
	default:
		u, err := tryGit(dir, nil, "diff", "--name-only", "--diff-filter=U")
		if err != nil {
			return err
		}
		if u == "" && !strings.Contains(out, "CONFLICT") {
			// git revert refused to start: with text/eol attributes a
			// file whose blob is not normalised looks modified right after
			// checkout. The same merge-ort merge, without the worktree
			// check, is `git merge-tree` of two commits whose only merge
			// base has the reverted commit's tree; it reads the same
			// attributes (the checked-out branch's).
			line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
			_, _ = combinedGit(dir, "reset", "-q", "--hard")
			c.gitRefused = line
			return r.mergeTreeOracle(c)
		}
		c.want = "conflict " + strings.Join(conflictPaths(u), ",")
	}
	return nil
}

func (r *diffRunner) mergeTreeOracle(c *caseResult) error {
	dir := r.dir
	commit := func(tree string, parents ...string) (string, error) {
		args := []string{"commit-tree", tree, "-m", "oracle"}
		for _, p := range parents {
			args = append(args, "-p", p)
		}
		return tryGit(dir, nil, args...)
	}
	base, err := commit(c.sha + "^{tree}")
	if err != nil {
		return err
	}
	ours, err := commit(c.head+"^{tree}", base)
	if err != nil {
		return err
	}
	theirs, err := commit(c.sha+"^^{tree}", base)
	if err != nil {
		return err
	}
	args := []string{"merge-tree", "--write-tree", "--name-only", ours, theirs}
	if r.renameLimit > 0 {
		args = append([]string{"-c", "merge.renameLimit=" + strconv.Itoa(r.renameLimit)}, args...)
	}
	out, merr := combinedGit(dir, args...)
	c.gitOut += "\nmerge-tree:\n" + out
	lines := strings.Split(out, "\n")
	if merr == nil {
		headTree, err := tryGit(dir, nil, "rev-parse", c.head+"^{tree}")
		if err != nil {
			return err
		}
		if lines[0] == headTree {
			c.want = "already reverted"
		} else {
			c.want = "tree " + lines[0]
		}
		return nil
	}
	var paths []string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		paths = append(paths, l)
	}
	c.want = "conflict " + strings.Join(conflictPaths(strings.Join(paths, "\n")), ",")
	return nil
}

// combinedGit runs git and returns stdout and stderr together.
func combinedGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func outcome(tree string, err error) string {
	var ce *ConflictError
	switch {
	case err == nil:
		return "tree " + tree
	case asConflict(err, &ce):
		// Only the paths git leaves unmerged are compared (directory
		// rename conflicts are reported by git without one).
		var ps []string
		for _, p := range ce.Paths() {
			for _, c := range ce.Conflicts {
				if c.Path == p && c.Kind.Unmerged() {
					ps = append(ps, p)
					break
				}
			}
		}
		return "conflict " + strings.Join(ps, ",")
	case isAlreadyReverted(err):
		return "already reverted"
	case errors.Is(err, ErrGitCannotMerge):
		return "git aborts"
	}
	return "error " + err.Error()
}
