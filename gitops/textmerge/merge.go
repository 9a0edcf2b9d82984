package textmerge

import (
	"bytes"
	"strconv"
)

// Result is the outcome of a three-way merge.
type Result struct {
	Merged    []byte // the merged text; only meaningful when Conflicts == 0
	Conflicts int    // number of conflicting hunks; 0 means a clean merge

	// TooComplex reports that the merge was abandoned because git's
	// histogram diff is quadratic on these inputs (see the package doc);
	// Conflicts is then 1. It never happens with Options{Algorithm: Myers}.
	TooComplex bool
}

// Options tunes MergeWith. The zero value is what Merge uses.
type Options struct {
	// Algorithm is the line diff run from the base to each side.
	// Histogram (the zero value) is what git's merge-ort uses for revert,
	// cherry-pick and merge; Myers is what `git merge-file` uses. Any
	// other value is a programming error and makes MergeWith panic.
	Algorithm Algorithm
}

// Merge merges the changes from base to ours and from base to theirs, as
// git's merge machinery does for a file changed on both sides: merge-ort's
// content merge (ll_merge → xdl_merge at level XDL_MERGE_ZEALOUS, with the
// histogram diff merge-ort hard-codes, the default conflict style and no
// favouring of either side). Changes that overlap or touch (are on
// adjacent lines) conflict unless both sides made the same change. The
// clean-or-conflict verdict, the merged bytes of a clean merge, and the
// conflict count match git 2.39; see the package doc for the details and
// the known version differences. It never writes conflict markers.
func Merge(base, ours, theirs []byte) Result {
	return MergeWith(base, ours, theirs, Options{})
}

// MergeWith is Merge with a choice of diff algorithm. With
// Options{Algorithm: Myers} it agrees with `git merge-file -p ours base
// theirs` (clean or not, and the bytes of a clean merge).
func MergeWith(base, ours, theirs []byte, opts Options) (res Result) {
	if opts.Algorithm != Histogram && opts.Algorithm != Myers {
		panic("textmerge: unknown Algorithm " + strconv.Itoa(int(opts.Algorithm)))
	}
	switch {
	case bytes.Equal(ours, theirs), bytes.Equal(base, theirs):
		return Result{Merged: bytes.Clone(nonNil(ours))}
	case bytes.Equal(base, ours):
		return Result{Merged: bytes.Clone(nonNil(theirs))}
	}

	baseLines, oursLines, theirsLines := splitLines(base), splitLines(ours), splitLines(theirs)
	cl := newClassifier(len(baseLines) + len(oursLines) + len(theirsLines))
	mg := &merger{
		base:        cl.classify(baseLines),
		ours:        cl.classify(oursLines),
		theirs:      cl.classify(theirsLines),
		oursLines:   oursLines,
		theirsLines: theirsLines,
	}
	mg.d = newDiffer(opts.Algorithm, cl.count())
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(errTooComplex); !ok {
				panic(r)
			}
			res = Result{Conflicts: 1, TooComplex: true}
		}
	}()

	x1 := mg.d.diff(mg.base, mg.ours)
	x2 := mg.d.diff(mg.base, mg.theirs)
	hs := mg.hunks(x1, x2)
	hs = simplify(mg.refine(hs))

	conflicts := 0
	for _, h := range hs {
		if h.mode == modeConflict {
			conflicts++
		}
	}
	if conflicts > 0 {
		return Result{Conflicts: conflicts}
	}
	return Result{Merged: mg.output(hs)}
}

// nonNil makes a clean merge of empty inputs return an empty, non-nil
// slice, so callers can tell "merged to nothing" from "no result".
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
