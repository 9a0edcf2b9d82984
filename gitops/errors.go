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
)

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
