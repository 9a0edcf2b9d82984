// Package canary watches Flagger Canary resources in one or more clusters and
// hands the ones in a final phase to a Handler. Reading what a canary ran
// belongs to package cluster.
//
// A Watcher runs dynamic informers on canaries.flagger.app/v1beta1 (one per
// watched namespace, or one cluster-wide informer filtered by namespace when a
// cluster has more than a few), keeps of each canary only what handlers read
// (its identity, spec.targetRef, phase, transition time and analysis
// counters: under 400 bytes, so that caches of thousands stay small), and
// puts the key of every canary whose phase changed, and of every canary in a
// final phase (Succeeded or Failed) at start-up and at each resync, on a
// rate-limited work queue keyed by cluster/namespace/name. Failed canaries go
// on a queue with workers of their own, so a rollback never waits for a
// worker behind a burst of other results. Workers hand the current object to
// a Handler; a Handler error requeues the key with a backoff capped at
// MaxRetryDelay, so pending results go out soon after an outage, and at once
// when the caller learns the outage ended (RetryNow). Handlers
// therefore see a final phase more than once (after a restart, at every
// resync, and rarely from both queues at once) and must check the systems of
// record (Git, Gitea) before they act.
//
// A Watcher is safe for concurrent use and runs once.
package canary
