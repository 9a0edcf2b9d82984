// Package rollback is ensign's rollback service: when a stage's Flagger
// canary Fails, it makes Git say again what the cluster runs. It finds the
// commit that brought the failing version into the stage's overlay, writes
// its `git revert` (mainline 1 for merge commits) and pushes it or opens a
// revert pull request as the policy says, comments on the pull request that
// introduced the version, asks Flux to reconcile now and records an event on
// the canary.
//
// The failing version is what the canary's target workload runs and its
// primary does not: once the two agree again (the revert was applied, or a
// person fixed it) there is nothing to revert, whatever the canary's phase.
//
// Safe to repeat: each failure is identified by its canary and the time the
// canary failed, and the revert carries that identity as a trailer. Before
// writing, the service looks for that revert in Git, for a revert of the same
// commit, and for whether Git still contains the failing version at all; a
// restart after the push resumes with the comment, the reconcile request and
// the event, each of which is itself idempotent; the comment is then written
// only if it is missing, never rewritten, so that people keep reading what
// ensign did rather than "reverted before". A revert is dated by the
// failure, so rebuilding it gives the same commit.
//
// It never reverts a revert automatically, never writes conflict markers (a
// conflicting revert is reported with its paths for a person to resolve), and
// reports rather than guesses when Git no longer contains the failing version.
//
// A Service works on one repository; its methods are safe for concurrent use
// and actions on the repository run one at a time. Failures that arrive
// together are decided and written together (batch.go): one fetch, one walk
// of the history for all their overlays, and one push carrying each
// failure's own revert commit; while the Git server cannot be reached the
// batch keeps the repository's lock and tries again every half second, so
// the reverts land first when it is back. Comments, reconcile requests and
// events follow after the lock is released.
package rollback
