package gitops

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinels for outcomes that are not failures.
var (
	// ErrAlreadyReverted means the revert would change nothing: the branch
	// tip already has the reverted commit's parent state on every path the
	// commit changed.
	ErrAlreadyReverted = errors.New("commit is already reverted")
	// ErrNothingToCommit means an edit left the tree unchanged.
	ErrNothingToCommit = errors.New("nothing to commit")
)

// Errors for bad requests; each is wrapped with the offending value.
var (
	ErrRootCommit       = errors.New("cannot revert a root commit")
	ErrNotFound         = errors.New("not found")
	ErrBadMainline      = errors.New("bad mainline parent")
	ErrBranchExists     = errors.New("branch already exists")
	ErrBranchMissing    = errors.New("branch does not exist")
	ErrRetriesExhausted = errors.New("push kept losing the race")
	// ErrGitCannotMerge is a history on which git's own merge (merge-ort in
	// git 2.39) stops on an internal assertion instead of merging; ensign
	// refuses it the same way rather than guess. The revert must be done
	// by hand.
	ErrGitCannotMerge = errors.New("git's merge aborts on this history")
)

// ConflictKind says why one path could not be merged.
type ConflictKind string

// The conflict kinds a revert can report.
const (
	ConflictContent       ConflictKind = "content"
	ConflictModifyDelete  ConflictKind = "modify/delete"
	ConflictAddAdd        ConflictKind = "add/add"
	ConflictBinary        ConflictKind = "binary"
	ConflictMode          ConflictKind = "mode"
	ConflictFileDirectory ConflictKind = "file/directory"
	ConflictSymlink       ConflictKind = "symlink"
	ConflictSubmodule     ConflictKind = "submodule"
	// ConflictRenameDelete: one side renamed the path, the other deleted it.
	ConflictRenameDelete ConflictKind = "rename/delete"
	// ConflictRenameRename: the two sides renamed one path to two names.
	ConflictRenameRename ConflictKind = "rename/rename"
	// ConflictFileLocation: a path added or renamed on one side sits in a
	// directory the other side renamed; git moves it and stops (its
	// default merge.directoryRenames=conflict).
	ConflictFileLocation ConflictKind = "file location"
	// ConflictDirRenameSplit: a directory's files went to several
	// directories with no majority. It names the directory and, as in git,
	// leaves no conflicted path of its own.
	ConflictDirRenameSplit ConflictKind = "directory rename split"
	// ConflictDirRenameInWay: a directory rename would move a path onto one
	// that exists. It names that path; the moved path stays where it was.
	ConflictDirRenameInWay ConflictKind = "implicit directory rename: path in the way"
	// ConflictDirRenameCollision: directory renames would move several
	// paths onto this one. None of them is moved.
	ConflictDirRenameCollision ConflictKind = "implicit directory rename: collision"
)

// Unmerged reports whether git leaves the conflict's path unmerged in the
// index (false for the directory rename conflicts, which git only reports).
func (k ConflictKind) Unmerged() bool {
	switch k {
	case ConflictDirRenameSplit, ConflictDirRenameInWay, ConflictDirRenameCollision:
		return false
	}
	return true
}

// Conflict is one path that could not be merged.
type Conflict struct {
	Path string
	Kind ConflictKind
}

// ConflictError reports a revert that git would stop on with conflicts. No
// commit was written and nothing was pushed.
type ConflictError struct {
	Commit    string // the commit being reverted
	Conflicts []Conflict
}

// Error lists every conflicting path with its kind.
func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s (%s)", c.Path, c.Kind)
	}
	return fmt.Sprintf("revert of %s conflicts: %s", shortHash(e.Commit), strings.Join(parts, ", "))
}

// Paths returns the conflicting paths, sorted.
func (e *ConflictError) Paths() []string {
	ps := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		ps[i] = c.Path
	}
	sort.Strings(ps)
	return ps
}

// PushRejectedError is a push the server refused. Stale is true when the
// branch had moved (the compare-and-swap lost); Update and Revert retry those.
type PushRejectedError struct {
	Ref    string
	Reason string
	Stale  bool
}

// Error names the ref and the server's reason.
func (e *PushRejectedError) Error() string {
	return fmt.Sprintf("push to %s rejected: %s", e.Ref, e.Reason)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
