// Package textmerge owns ensign's line-level three-way merge, meant to give
// the same clean-or-conflict verdict and the same merged bytes as git's own
// merge machinery (xdiff's xdl_merge as called by merge-ort for a revert).
//
// It is pure: no I/O, no global state; Merge is safe for concurrent use.
// Binary detection is the caller's job.
//
// Status: work in progress, see Merge's doc comment.
package textmerge
