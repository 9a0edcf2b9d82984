package textmerge

import "bytes"

// Result is the outcome of a three-way merge.
type Result struct {
	Merged    []byte // the merged text; only meaningful when Conflicts == 0
	Conflicts int    // number of conflicting hunks; 0 means a clean merge
}

// Merge merges the changes from base to ours and from base to theirs, as git's
// merge machinery does for a file changed on both sides (the default "myers"
// diff and the conflict level git's ort/revert uses). It never writes conflict
// markers.
//
// PRELIMINARY VERSION: only the trivial cases are handled (one side unchanged,
// or both sides identical). Every other input is reported as one conflict,
// which is safe (the caller falls back to a conflict) but disagrees with git
// whenever git would merge cleanly. The full xdiff-compatible merge replaces
// this body.
func Merge(base, ours, theirs []byte) Result {
	switch {
	case bytes.Equal(ours, theirs):
		return Result{Merged: append([]byte(nil), ours...)}
	case bytes.Equal(base, ours):
		return Result{Merged: append([]byte(nil), theirs...)}
	case bytes.Equal(base, theirs):
		return Result{Merged: append([]byte(nil), ours...)}
	}
	return Result{Conflicts: 1}
}
