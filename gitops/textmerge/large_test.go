package textmerge

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// largeCases are big inputs that push xdiff's heuristics: Myers' cost
// limit and snake heuristics (thousands of scattered changes), the
// histogram fallback (records repeated far more than 64 times) and a
// mildly quadratic histogram input.
func largeCases() map[string]mergeCase {
	rng := rand.New(rand.NewPCG(7, 7))
	cases := map[string]mergeCase{}

	alphabet := []string{"a\n", "b\n", "c\n", "\n", "  - name: app\n", "    newTag: v1\n"}
	var b, o, t [][]byte
	for i := 0; i < 30_000; i++ {
		b = append(b, []byte(alphabet[rng.IntN(len(alphabet))]))
	}
	o, t = append([][]byte(nil), b...), append([][]byte(nil), b...)
	for i := 0; i < 2000; i++ {
		o[rng.IntN(len(o))] = []byte(alphabet[rng.IntN(len(alphabet))])
		t[rng.IntN(len(t))] = []byte(alphabet[rng.IntN(len(alphabet))])
	}
	cases["small alphabet, 30k lines, 2k edits a side"] = mergeCase{bytes.Join(b, nil), bytes.Join(o, nil), bytes.Join(t, nil)}

	var u [][]byte
	for i := 0; i < 20_000; i++ {
		u = append(u, fmt.Appendf(nil, "u%d\n", i))
	}
	s := append([][]byte(nil), u...)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	cases["unique lines, one side shuffled"] = mergeCase{bytes.Join(u, nil), bytes.Join(s, nil), append([]byte("z\n"), bytes.Join(u[1:], nil)...)}

	// Blocks of unique lines, each side moving blocks around: long snakes.
	var blk [][]byte
	for i := 0; i < 400; i++ {
		for j := 0; j < 30; j++ {
			blk = append(blk, fmt.Appendf(nil, "b%d-%d\n", i, j%25))
		}
	}
	mo := append([][]byte(nil), blk...)
	for i := 0; i < 200; i++ {
		p, q := rng.IntN(len(mo)-40), rng.IntN(len(mo)-40)
		seg := append([][]byte(nil), mo[p:p+20+rng.IntN(20)]...)
		mo = append(mo[:p], mo[p+len(seg):]...)
		mo = append(mo[:q], append(seg, mo[q:]...)...)
	}
	tb := append([][]byte(nil), blk...)
	tb[len(tb)-1] = []byte("last\n")
	cases["moved blocks"] = mergeCase{bytes.Join(blk, nil), bytes.Join(mo, nil), bytes.Join(tb, nil)}

	// Swapped neighbours every 30 lines in a 34k-line file: every record
	// still matches once, so nothing is discarded, and the files are big
	// enough (n1+n2 >= 65533, so mxcost = 512) and the search long enough
	// (cost > 256 with long snakes) for xdl_split's snake heuristic to cut.
	var sw [][]byte
	for i := 0; i < 34_000; i++ {
		sw = append(sw, fmt.Appendf(nil, "s%d\n", i))
	}
	so, st := append([][]byte(nil), sw...), append([][]byte(nil), sw...)
	for i := 0; i+16 < len(sw); i += 30 {
		so[i], so[i+1] = so[i+1], so[i]
		if i%90 == 0 {
			st[i+15], st[i+16] = st[i+16], st[i+15]
		}
	}
	cases["swapped neighbours, 34k lines"] = mergeCase{bytes.Join(sw, nil), bytes.Join(so, nil), bytes.Join(st, nil)}

	// Dense swaps in the first 2000 lines and sparse ones after: the
	// forward search makes little progress, so the backward snake
	// heuristic is the one that cuts.
	sd := append([][]byte(nil), sw...)
	for i := 0; i+1 < len(sd); {
		sd[i], sd[i+1] = sd[i+1], sd[i]
		if i < 2000 {
			i += 3
		} else {
			i += 30
		}
	}
	td := append([][]byte(nil), sw...)
	td[len(td)/2+15] = []byte("changed\n")
	cases["dense then sparse swaps, 34k lines"] = mergeCase{bytes.Join(sw, nil), bytes.Join(sd, nil), bytes.Join(td, nil)}

	base, ours, theirs := interleaved(3000)
	cases["interleaved insertions, 3000 lines"] = mergeCase{base, ours, theirs}

	base, ours, theirs = yamlFile(5000, 25)
	cases["5000-line yaml, scattered edits"] = mergeCase{base, ours, theirs}
	return cases
}

func TestLargeInputsAgainstGit(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs skipped in -short mode")
	}
	lc := largeCases()
	var names []string
	var cases []mergeCase
	for name, c := range lc {
		names = append(names, name)
		cases = append(cases, c)
	}
	g := newGitRunner(t)
	ort := newGitRunner(t).mergeTree(t, cases)
	for i, name := range names {
		c := cases[i]
		t.Run(name, func(t *testing.T) {
			var d disagreement
			got := Merge(c.base, c.ours, c.theirs)
			if got.TooComplex {
				t.Fatalf("histogram merge gave up")
			}
			d.report(t, "merge-tree/ort", i, c, got, ort[i], true)
			d.report(t, "merge-file/myers", i, c, MergeWith(c.base, c.ours, c.theirs, Options{Algorithm: Myers}), g.mergeFile(t, c), false)
			t.Logf("histogram: %d conflicts (git %d)", got.Conflicts, ort[i].conflicts)
		})
	}
}

// TestPathologicalInputGivesUp checks the work bound with a lowered
// limit (the real one is exercised by BenchmarkMergePathological).
func TestPathologicalInputGivesUp(t *testing.T) {
	old := workLimit
	workLimit = 50_000_000
	t.Cleanup(func() { workLimit = old })

	base, ours, theirs := interleaved(20_000)
	r := Merge(base, ours, theirs)
	if !r.TooComplex || r.Conflicts != 1 || r.Merged != nil {
		t.Fatalf("histogram: got conflicts=%d tooComplex=%v, want TooComplex with one conflict", r.Conflicts, r.TooComplex)
	}
	// Myers has no quadratic case; xdiff's cost limit bounds it.
	if r := MergeWith(base, ours, theirs, Options{Algorithm: Myers}); r.TooComplex || r.Conflicts != 1 {
		t.Fatalf("myers: got conflicts=%d tooComplex=%v, want one ordinary conflict", r.Conflicts, r.TooComplex)
	}
	// The same shape, small enough, is merged exactly (compared with git
	// in TestLargeInputsAgainstGit).
	base, ours, theirs = interleaved(3000)
	if r := Merge(base, ours, theirs); r.TooComplex {
		t.Fatalf("3000-line input gave up under a %d limit", workLimit)
	}
}
