// Package gitops owns ensign's Git plumbing on go-git: a persistent on-disk
// cache of one remote repository, object-level commits (blobs, trees and
// commits written straight into the object store, rewriting only the
// subtrees on changed paths), commit trailers, git-compatible reverts, and
// pushes that send only new objects under the server's compare-and-swap.
//
// # Concurrency
//
// A *Repo may be shared by any number of goroutines. go-git's on-disk
// storage is not safe for concurrent use, so every object and ref access
// takes the Repo's storage mutex; operations that talk to the remote or move
// refs (Fetch, Deepen, FetchCommit, Update, Revert, RevertTree, Log,
// LastChange, FindRevert) additionally run one at a time per Repo. Storing a
// fetched pack holds the storage mutex until the pack is written, so reads
// (Commit, ReadFile, Tip) wait for a running fetch. Separate Repos (even of
// the same remote, in different directories) are independent; two processes
// must not share one cache directory. A *TreeEditor belongs to one goroutine.
// Callbacks (Update's edit, Log's fn) run inside an operation: they may use
// the read methods (Snapshot, Commit, ReadFile, Tip, Branches) but must not
// start another operation on the same Repo, which would deadlock.
//
// # State left behind
//
// The cache directory holds a bare repository: packs from fetches, loose
// objects of pushed commits, refs/remotes/origin/<branch> for each branch
// last fetched or pushed, and a "shallow" file when the cache was started
// without full history. Objects built for a push that failed are never
// written to disk. Nothing else is kept; deleting the directory is always
// safe (the next Fetch starts over).
//
// # Revert semantics
//
// Revert is a path-based three-way merge (base: the reverted commit, ours:
// the branch tip, theirs: the commit's mainline parent), with text merged by
// package textmerge and git's rules for binary files, modes, symlinks,
// add/add and modify/delete. A path that is a file on one side and a
// directory on another is merged as merge-ort does: the file part and the
// directory part are merged separately, and only where both survive is the
// path a file/directory conflict (reported next to any conflicts inside the
// directory). Unlike git it does not yet detect renames (a revert of a commit
// whose files were renamed since is reported as modify/delete) and ignores
// .gitattributes merge drivers.
package gitops
