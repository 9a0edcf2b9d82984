package textmerge

// Algorithm selects the line diff that feeds the merge.
type Algorithm int

const (
	// Histogram is xdiff's histogram diff, the one git's merge-ort machinery
	// hard-codes for content merges (git merge, revert, cherry-pick,
	// rebase, merge-tree). It is the default.
	Histogram Algorithm = iota
	// Myers is xdiff's default (non-minimal) Myers diff, the one
	// `git merge-file` and the old "recursive" strategy use.
	Myers
)

// String returns the name git uses for the algorithm.
func (a Algorithm) String() string {
	switch a {
	case Histogram:
		return "histogram"
	case Myers:
		return "myers"
	}
	return "unknown"
}

// side is one file of a two-way diff: its record ids and, after the diff,
// which records are changed. changed has a false sentinel at both ends
// (index 0 stands for record -1), as xdiff's rchg array does, so the group
// walks in compact.go need no bounds checks.
type side struct {
	ids     []int32
	changed []bool
}

func newSide(ids []int32) *side {
	return &side{ids: ids, changed: make([]bool, len(ids)+2)}
}

func (s *side) n() int               { return len(s.ids) }
func (s *side) isChanged(i int) bool { return s.changed[i+1] }
func (s *side) mark(i int)           { s.changed[i+1] = true }
func (s *side) set(i int, v bool)    { s.changed[i+1] = v }

// changedOrFalse is isChanged for indexes that may lie before the start
// sentinel; xdl_build_script never gets there on consistent input, but a
// bounds check is cheaper than a proof.
func (s *side) changedOrFalse(i int) bool { return i >= -1 && s.changed[i+1] }

// differ holds scratch space shared by all diffs of one merge. The count
// arrays are indexed by record id and always left zeroed after use.
type differ struct {
	alg   Algorithm
	cnt1  []int32
	cnt2  []int32
	hist  histScratch
	kvd   []int
	work  int // units spent by the histogram diff so far
	limit int // work allowed before the merge gives up; see workLimit
}

// errTooComplex is panicked by spend and recovered by MergeWith.
type errTooComplex struct{}

// spend charges n units of work and aborts the merge past the limit.
func (d *differ) spend(n int) {
	d.work += n
	if d.work > d.limit {
		panic(errTooComplex{})
	}
}

func newDiffer(alg Algorithm, nclasses int) *differ {
	return &differ{
		alg:   alg,
		cnt1:  make([]int32, nclasses),
		cnt2:  make([]int32, nclasses),
		hist:  newHistScratch(nclasses),
		limit: workLimit,
	}
}

// change is one hunk of an edit script: records [i1, i1+chg1) of the first
// file were replaced by records [i2, i2+chg2) of the second.
type change struct {
	i1, i2     int
	chg1, chg2 int
}

// diff runs xdl_do_diff, both xdl_change_compact passes and
// xdl_build_script on two record sequences.
func (d *differ) diff(a, b []int32) []change {
	s1, s2 := newSide(a), newSide(b)
	switch d.alg {
	case Myers:
		d.myers(s1, s2)
	default:
		d.histogram(s1, s2)
	}
	compact(s1, s2)
	compact(s2, s1)
	return buildScript(s1, s2)
}

// buildScript collects groups of changed records into hunks, in file order
// (xdl_build_script).
func buildScript(s1, s2 *side) []change {
	var rev []change
	i1, i2 := s1.n(), s2.n()
	for i1 >= 0 || i2 >= 0 {
		if s1.changedOrFalse(i1-1) || s2.changedOrFalse(i2-1) {
			l1, l2 := i1, i2
			for s1.isChanged(i1 - 1) {
				i1--
			}
			for s2.isChanged(i2 - 1) {
				i2--
			}
			rev = append(rev, change{i1: i1, i2: i2, chg1: l1 - i1, chg2: l2 - i2})
		}
		i1--
		i2--
	}
	for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
		rev[l], rev[r] = rev[r], rev[l]
	}
	return rev
}

// workLimit bounds the work of one merge's histogram diffs, in records
// visited by find_lcs. xdiff's histogram diff is quadratic on some inputs:
// a 100,000-line file in which one side inserted a line after every line
// costs git 2.39 about five minutes. Merge follows git exactly up to this
// bound (about 2 s of CPU here; git needs 1.7 s for the 20,000-line
// version of that file) and reports the merge as TooComplex beyond it.
// It is a variable only so that tests can lower it.
var workLimit = 1_000_000_000
