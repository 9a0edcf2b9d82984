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
// takes the Repo's storage mutex. Operations that talk to the remote or
// move refs (Fetch, Deepen, FetchCommit, Update, Revert, RevertTree, and
// the deepening of a shallow cache during a history walk) also run one at a
// time per Repo, in arrival order, except that operations under a context
// marked by Urgent (a rollback) go before the ordinary ones waiting; a wait
// ends with its context. History walks (Log, LogPaths, LastChange,
// FindRevert) run alongside everything else. Storing a fetched pack holds
// the storage mutex until the pack is written, so reads (Commit, ReadFile,
// Tip) wait for a running fetch. Separate Repos (even of the same remote,
// in different directories) are independent; two processes must not share
// one cache directory. A *TreeEditor belongs to one goroutine. Update's
// edit runs inside an operation: it may use the read methods (Snapshot,
// Commit, ReadFile, Tip, Branches) but must not start another operation on
// the same Repo, which would deadlock. A walk's callback may use any
// method.
//
// # State left behind
//
// The cache directory holds a bare repository: packs from fetches, loose
// objects of pushed commits, refs/remotes/origin/<branch> for each branch
// last fetched or pushed, and a "shallow" file when the cache was started
// without full history. Once it holds more than 16 packs or 256 loose
// objects, the next fetch or push rolls the small packs and the loose
// objects into one pack, as git's `gc --auto` with `repack --geometric=2`
// would (the largest pack is never rewritten), so that a cache that lives
// for months keeps a handful of packs. Objects built for a push that
// failed are never written to disk. Nothing else is kept; deleting the
// directory is always safe (the next Fetch starts over).
//
// # Revert semantics
//
// Revert is git's revert: a three-way merge (base: the reverted commit,
// ours: the branch tip, theirs: the commit's mainline parent) done the way
// git 2.39's merge-ort does it, with its default settings:
//
//   - Text is merged by package textmerge; binary files, modes, symlinks,
//     submodules, add/add and modify/delete follow git's rules. A path that
//     is a file on one side and a directory on another is merged as
//     merge-ort does: the directory part first, and only where the file
//     part survives next to a non-empty directory is it a file/directory
//     conflict (reported next to any conflicts inside the directory).
//   - Renames are detected on both sides as merge-ort asks diffcore-rename
//     to: only for deleted paths the merge needs (changed on the other
//     side, or under a directory that may have been renamed); exact renames
//     first, then files that kept their base name at 75 % similarity, then
//     all remaining pairs at git's default 50 %, with git's chunk-hash
//     similarity estimate, its tie-breaking and its rename limit (7000:
//     no inexact detection when sources × destinations exceed 7000²). A
//     revert of an edit to a file that was renamed or moved since is
//     applied at the new path; renamed on one side and deleted on the other
//     is a rename/delete conflict, renamed differently on both sides a
//     rename/rename conflict.
//   - Directory renames are inferred where git infers them (a directory
//     removed on one side while the other added to it; majority of its
//     files' renames), in git's default "conflict" mode: a path that the
//     other side's directory rename would move is moved and reported as a
//     "file location" conflict, so such a revert stops for a person. A
//     directory split with no majority, or moves that collide or land on
//     an existing path, are the conflicts git reports without an unmerged
//     path (ConflictKind.Unmerged is false).
//   - .gitattributes files of the branch tip (what git revert reads from
//     its worktree) select the merge driver: merge unset, set or "text"
//     merge as text; -merge, merge=binary and the binary macro make any
//     content merge a binary conflict; union and custom drivers make the
//     revert fail with an *AttributeError naming the file and attribute
//     (ensign does not run merge drivers), but only when that file really
//     needs a content merge. -diff makes rename similarity treat a file as
//     binary, as in git. text, eol, crlf, ident, filter and
//     working-tree-encoding change only the worktree, not the tree git
//     commits (merge.renormalize is off by default), so they change nothing
//     here. No git configuration is read (merge.renameLimit,
//     merge.directoryRenames, merge.conflictStyle, diff.renames,
//     merge.renormalize, drivers): ensign behaves as git with defaults.
//
// The result is checked against git revert on thousands of generated
// histories (see the differential tests); they agree on every case. Where
// git 2.39 itself stops on an internal assertion (a few rename histories,
// about 1 in 3,000 generated cases), the revert fails with
// ErrGitCannotMerge instead of guessing.
package gitops
