package textmerge

import (
	"bytes"
	"os"
	"strconv"
	"testing"
)

// Differential tests: Merge against git itself on seeded random inputs.
// TEXTMERGE_DIFF_N sets the number of cases per oracle (defaults keep the
// whole package under ~20 s) and TEXTMERGE_DIFF_SEED the first seed.

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

func genCases(seed uint64, n int) []mergeCase {
	g := newCaseGen(seed)
	cases := make([]mergeCase, n)
	for i := range cases {
		b, o, th := g.threeWay()
		cases[i] = mergeCase{base: b, ours: o, theirs: th}
	}
	return cases
}

// disagreement reports one case that differs from git.
type disagreement struct {
	failures int
}

func (d *disagreement) report(t *testing.T, what string, i int, c mergeCase, got Result, want oracleResult, checkCount bool) {
	t.Helper()
	same := (got.Conflicts == 0) == (want.conflicts == 0)
	if same && got.Conflicts == 0 {
		same = bytes.Equal(got.Merged, want.merged)
	}
	if same && checkCount {
		same = got.Conflicts == want.conflicts
	}
	if same {
		return
	}
	d.failures++
	if d.failures > 5 {
		return
	}
	t.Errorf("%s case %d disagrees with git:\nbase:   %q\nours:   %q\ntheirs: %q\ngot conflicts=%d merged=%q\ngit conflicts=%d merged=%q",
		what, i, clip(c.base), clip(c.ours), clip(c.theirs), got.Conflicts, clip(got.Merged), want.conflicts, clip(want.merged))
}

func clip(b []byte) []byte {
	if len(b) > 600 {
		return append(b[:600:600], "..."...)
	}
	return b
}

func summarize(t *testing.T, what string, cases []mergeCase, d *disagreement, clean int) {
	t.Helper()
	t.Logf("%s: %d cases, %d clean, %d conflicted, %d disagreements with git", what, len(cases), clean, len(cases)-clean, d.failures)
}

func TestDifferentialMergeFileMyers(t *testing.T) {
	g := newGitRunner(t)
	seed := uint64(envInt(t, "TEXTMERGE_DIFF_SEED", 1))
	cases := genCases(seed, envInt(t, "TEXTMERGE_DIFF_N", 300))
	var d disagreement
	clean := 0
	for i, c := range cases {
		want := g.mergeFile(t, c)
		got := MergeWith(c.base, c.ours, c.theirs, Options{Algorithm: Myers})
		if want.conflicts == 0 {
			clean++
		}
		d.report(t, "merge-file/myers", i, c, got, want, false)
	}
	summarize(t, "merge-file (myers)", cases, &d, clean)
}

func TestDifferentialMergeTreeHistogram(t *testing.T) {
	seed := uint64(envInt(t, "TEXTMERGE_DIFF_SEED", 1)) + 1000003
	n := envInt(t, "TEXTMERGE_DIFF_N", 300)
	cases := genCases(seed, 3*n)
	const batch = 2000
	var d disagreement
	clean := 0
	for start := 0; start < len(cases); start += batch {
		part := cases[start:min(start+batch, len(cases))]
		want := newGitRunner(t).mergeTree(t, part)
		for i, c := range part {
			got := Merge(c.base, c.ours, c.theirs)
			if want[i].conflicts == 0 {
				clean++
			}
			d.report(t, "merge-tree/ort", start+i, c, got, want[i], true)
		}
	}
	summarize(t, "merge-tree (ort, histogram)", cases, &d, clean)
}

func TestDifferentialRevert(t *testing.T) {
	seed := uint64(envInt(t, "TEXTMERGE_DIFF_SEED", 1)) + 2000003
	n := envInt(t, "TEXTMERGE_DIFF_N", 300)
	cases := genCases(seed, n)
	const batch = 500
	var d disagreement
	clean := 0
	for start := 0; start < len(cases); start += batch {
		part := cases[start:min(start+batch, len(cases))]
		want := newGitRunner(t).revert(t, part)
		for i, c := range part {
			got := Merge(c.base, c.ours, c.theirs)
			if want[i].conflicts == 0 {
				clean++
			}
			d.report(t, "revert/ort", start+i, c, got, want[i], true)
		}
	}
	summarize(t, "git revert (ort, histogram)", cases, &d, clean)
}

// TestDifferentialBigFiles runs 500 to 3,000-line files with a few edits a
// side (mostly clean merges), where the histogram fallback and the Myers
// heuristics decide the result. TEXTMERGE_DIFF_N/10 cases.
func TestDifferentialBigFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("big files skipped in -short mode")
	}
	seed := uint64(envInt(t, "TEXTMERGE_DIFF_SEED", 1)) + 3000017
	n := max(envInt(t, "TEXTMERGE_DIFF_N", 300)/10, 1)
	g := newCaseGen(seed)
	cases := make([]mergeCase, n)
	for i := range cases {
		b := g.bigBase()
		o, th := b, b
		for k := 1 + g.rng.IntN(12); k > 0; k-- {
			o = apply(o, g.edit(len(o)))
		}
		for k := 1 + g.rng.IntN(12); k > 0; k-- {
			th = apply(th, g.edit(len(th)))
		}
		cases[i] = mergeCase{base: bytes.Join(b, nil), ours: bytes.Join(o, nil), theirs: bytes.Join(th, nil)}
	}
	want := newGitRunner(t).mergeTree(t, cases)
	mf := newGitRunner(t)
	var d disagreement
	clean := 0
	for i, c := range cases {
		if want[i].conflicts == 0 {
			clean++
		}
		d.report(t, "merge-tree/ort", i, c, Merge(c.base, c.ours, c.theirs), want[i], true)
		d.report(t, "merge-file/myers", i, c, MergeWith(c.base, c.ours, c.theirs, Options{Algorithm: Myers}), mf.mergeFile(t, c), false)
	}
	summarize(t, "big files (ort and merge-file)", cases, &d, clean)
}
