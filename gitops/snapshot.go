package gitops

import "github.com/go-git/go-git/v5/plumbing"

// Snapshot returns an editor over the tree of a commit, for reading files
// and listing directories as they were at that commit. Edits made through it
// stay in memory; nothing is written unless the caller commits them (use
// Update for that).
func (r *Repo) Snapshot(commit plumbing.Hash) (*TreeEditor, error) {
	objs := newObjectSet(r)
	c, err := objs.commit(commit)
	if err != nil {
		return nil, err
	}
	return newTreeEditor(objs, c.Tree), nil
}
