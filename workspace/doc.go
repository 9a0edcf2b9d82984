// Package workspace is one GitOps repository as ensign's services work on
// it: the Git cache of the repository, the branch Flux deploys from, and the
// policy file read from that branch's tip.
//
// Sync fetches the branch and loads the policy at its tip; every action starts
// from a fresh Sync, so a policy change in Git takes effect at the next event.
// A repository without a policy file is not managed by ensign (Snapshot.Policy
// is nil). A policy file that does not load is reported in Snapshot.Invalid
// (naming the file, line and field) next to the newest earlier version that
// does load, so that one typo on the deploy branch does not switch ensign
// off: the services decide what they still do under the last valid policy.
//
// A Workspace is safe for concurrent use (the underlying gitops.Repo is).
// Begin serializes the actions that write the deploy branch and must not
// interleave (rollbacks, a person's /rollback, freezes); rollbacks ask to go
// first. Promotions do not take that lock: BeginPromotion runs them one at a
// time per app and alongside everything else, because what a promotion
// waits for (Gitea creating, labelling and merging pull requests) must never
// delay a rollback; at most Promotions run at once, and before a merge they
// Yield while a rollback works. Concurrent Syncs share fetches. Every wait gives up when
// its context ends.
package workspace
