package gitops

import (
	"bytes"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// simPair is one source/destination pair for the similarity oracle.
type simPair struct{ src, dst string }

func genSimPair(rng *rand.Rand) simPair {
	ls := randLines(rng, rng.Intn(40)+1)
	src := render(ls, rng.Intn(5) != 0)
	var dst string
	switch rng.Intn(6) {
	case 0: // unrelated
		dst = render(randLines(rng, rng.Intn(40)+1), true)
	case 1: // CRLF version of an edit
		dst = strings.ReplaceAll(render(mutate(rng, ls), true), "\n", "\r\n")
	case 2: // long lines, so chunks are cut at 64 bytes
		long := strings.Repeat(ls[0]+" padding", rng.Intn(20)+1)
		src = render(append([]string{long}, ls...), true)
		dst = render(append([]string{long + "x"}, mutate(rng, ls)...), rng.Intn(2) == 0)
	case 3: // binary
		b := []byte(render(mutate(rng, ls), true))
		b[rng.Intn(len(b))] = 0
		dst = string(b)
	default: // a few edits, the usual rename-and-edit
		m := ls
		for i := rng.Intn(4); i >= 0; i-- {
			m = mutate(rng, m)
		}
		dst = render(m, rng.Intn(5) != 0)
	}
	return simPair{src, dst}
}

// TestSimilarityMatchesGitDiff checks the chunk-hash similarity against
// `git diff-tree -M1%` on random pairs: same verdict at 1 % and the same
// percentage git prints.
func TestSimilarityMatchesGitDiff(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(envInt("ENSIGN_DIFF_SEED", 7))))
	cases := envInt("ENSIGN_SIM_CASES", 150)
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "--template=", "-b", "main")
	var stream bytes.Buffer
	pairs := make([]simPair, cases)
	for i := range pairs {
		p := genSimPair(rng)
		if p.src == "" || p.dst == "" {
			p.src, p.dst = "x\n", "y\n" // git never pairs empty files
		}
		pairs[i] = p
		fmt.Fprintf(&stream, "commit refs/heads/c%d\ncommitter T <t@example.com> 1700000000 +0000\ndata 1\nx\n", i)
		fmt.Fprintf(&stream, "M 100644 inline old/a.yaml\ndata %d\n%s\n\n", len(p.src), p.src)
		fmt.Fprintf(&stream, "commit refs/heads/c%d\ncommitter T <t@example.com> 1700000001 +0000\ndata 1\ny\n", i)
		fmt.Fprintf(&stream, "D old/a.yaml\nM 100644 inline new/b.yaml\ndata %d\n%s\n\n", len(p.dst), p.dst)
	}
	if _, err := tryGit(dir, stream.Bytes(), "fast-import", "--quiet"); err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		out := runGit(t, dir, "diff-tree", "-r", "-M1%", "--raw", fmt.Sprintf("c%d~", i), fmt.Sprintf("c%d", i))
		want := "no rename"
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 5 && strings.HasPrefix(f[4], "R") {
				n, _ := strconv.Atoi(f[4][1:])
				want = fmt.Sprintf("R%03d", n)
			}
		}
		src, dst := []byte(p.src), []byte(p.dst)
		score := similarity(len(src), len(dst), 600,
			func() []span { return spanCounts(src, !isBinary(src)) },
			func() []span { return spanCounts(dst, !isBinary(dst)) })
		got := "no rename"
		if score >= 600 {
			got = fmt.Sprintf("R%03d", score*100/maxScore)
		}
		if got != want {
			t.Errorf("pair %d: ensign %s (score %d), git %s\nsrc %q\ndst %q", i, got, score, want, p.src, p.dst)
		}
	}
}
