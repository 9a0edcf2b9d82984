// Package workspace is one GitOps repository as ensign's services work on
// it: the Git cache of the repository, the branch Flux deploys from, and the
// policy file read from that branch's tip. It also names the commit trailers
// ensign writes to record its actions, which the promotion and rollback
// services read back to stay idempotent.
//
// Sync fetches the branch and loads the policy at its tip; every action starts
// from a fresh Sync, so a policy change in Git takes effect at the next event.
// A repository without a policy file is not managed by ensign (Snapshot.Policy
// is nil); one with an invalid policy gives an error that names the file, line
// and field, and nothing is acted on.
//
// A Workspace is safe for concurrent use (the underlying gitops.Repo is).
// Begin serializes the actions of the services on one repository within this
// process; rollbacks may ask to go first.
package workspace
