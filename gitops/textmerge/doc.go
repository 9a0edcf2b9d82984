// Package textmerge owns ensign's line-level three-way merge: given a base
// and two changed versions of a text file, it gives the same
// clean-or-conflict verdict, the same merged bytes and the same conflict
// count as git's own content merge. gitops uses it for `git revert`, which
// go-git lacks. It is a reimplementation in Go of the algorithms in git's
// xdiff library (written from git's sources, not translated line by line).
//
// # What is reproduced
//
// The merge is the one git runs for a file changed on both sides of a
// merge, revert or cherry-pick: merge-ort's merge_3way → ll_merge →
// ll_xdl_merge → xdl_merge, with merge level XDL_MERGE_ZEALOUS, no
// favouring of either side, the default conflict style and no whitespace
// or EOL options. Step by step:
//
//   - Records: the input is cut into lines that keep their '\n'; a last
//     line without a newline is its own record, and lines compare byte
//     for byte (so "a\r\n", "a\n" and a final "a" all differ).
//   - Diff base→ours and base→theirs with the histogram diff. merge-ort
//     hard-codes it (merge_start: "Default to histogram diff. Actually,
//     just hardcode it...for now."), so it is the default here too. In git
//     2.39 the histogram diff runs on the whole files (no trimming of
//     common ends, no discarding of unmatched records); a region whose
//     only anchors occur more than 64 times falls back to a full Myers
//     diff of that region (xdl_fall_back_diff).
//   - Options{Algorithm: Myers} selects xdiff's default Myers diff instead,
//     as `git merge-file` uses: xdl_trim_ends, xdl_cleanup_records
//     (records with no match are changed outright; records with more than
//     about sqrt(n) matches are dropped when they sit in a run of
//     unmatched ones, xdl_clean_mmatch), then xdl_recs_cmp/xdl_split with
//     the non-minimal cost heuristics (XDL_MAX_COST_MIN, XDL_HEUR_MIN_COST,
//     XDL_SNAKE_CNT, XDL_K_HEUR).
//   - xdl_change_compact on both files of each diff: every group of
//     changes slides down as far as it can, merging with groups it meets,
//     then back up to line up with a change in the other file. git's merge
//     path never sets the indent heuristic, so it is not implemented.
//     This sliding is what places an ambiguous insertion among repeated
//     YAML lines where git places it.
//   - xdl_build_script, then xdl_do_merge: changes of the two sides that
//     overlap or touch (one ends on the base line where the other starts,
//     including two insertions at the same place) are one conflict unless
//     they are identical; xdl_refine_conflicts diffs the two sides of each
//     conflict against each other (same algorithm) and keeps only the
//     parts that differ, resolving a conflict entirely when both sides
//     made the same change; xdl_simplify_non_conflicts then joins
//     conflicts at most three lines apart, which only changes the count.
//   - Output of a clean merge: unchanged text and ours' changes from ours,
//     theirs' changes from theirs (xdl_fill_merge_buffer). With one side
//     equal to the base, the other side is returned as is.
//
// Result.Conflicts is the number of conflict hunks, i.e. the number of
// "<<<<<<<" markers git writes. `git merge-file` uses the
// XDL_MERGE_ZEALOUS_ALNUM level, which can join more conflicts, so its exit
// code may be lower; its clean results and verdicts are the same.
//
// The tests compare against git 2.39.5 (merge-file for Myers; merge-tree
// --write-tree and real `git revert` for the default) on tens of thousands
// of random YAML-like cases and on large inputs that reach every
// heuristic; see differential_test.go and large_test.go.
//
// # Known differences from git
//
//   - Work bound: git's histogram diff is quadratic on some inputs (a
//     100,000-line file where one side inserted a line after every line
//     takes git 2.39 about five minutes). Merge spends at most workLimit
//     units (about 2 s of CPU) and then returns Result{Conflicts: 1,
//     TooComplex: true}. Below the bound it matches git exactly; git
//     finishes such inputs slowly, possibly with a clean result.
//   - git's histogram diff fails outright if more than 64 distinct lines
//     share one slot of its hash table; that cannot happen here.
//   - Configuration is not read: merge.conflictStyle=diff3 or zdiff3 turns
//     off conflict refinement in git and so can turn a clean merge into a
//     conflict; -X options (ignore-space-*, diff-algorithm, renormalize),
//     gitattributes merge drivers and text conversion are not applied.
//   - Binary files (a NUL in the first 8000 bytes) and files over 1 GiB
//     are merged by git as binary conflicts; detecting them is the
//     caller's job.
//   - Newer git releases reworked xdiff (2025 onward) and, going by that
//     work, trim common leading and trailing lines before a histogram diff
//     too; on rare inputs that can give a different diff than git 2.39.
//
// # Concurrency and state
//
// The package is pure: no I/O, no globals written after init, nothing left
// behind. Merge and MergeWith are safe for concurrent use. Memory is linear
// in the input size; the Myers search is bounded by xdiff's cost limit and
// the histogram search by the work bound above.
package textmerge
