// Package promote is ensign's promotion service: when a stage's Flagger
// canary Succeeds, it promotes exactly the version that canary verified into
// the stages that follow, as a pull request (or a direct push) on the GitOps
// repository, and merges it when the stage's promotion windows are open.
//
// What was verified comes from the cluster, not from the source overlay: the
// images of the canary's primary workload (what Flagger promoted after the
// analysis) and, for strategies that copy files, the Git revision the stage's
// Flux Kustomization last applied.
//
// Every side effect checks before it writes, so handling the same Succeeded
// canary again (a resync, a restart, a second replica's event) changes
// nothing: the promotion branch is named by the promotion's identity, its
// commit is reproducible (dated by the canary's transition time), the pull
// request is adopted when it exists, and a version already in the target
// overlay is "already promoted". A promotion a person closed without merging
// is not opened again.
//
// A version that ensign rolled back from a stage is not promoted into it
// again automatically: the pull request is opened and left for a person to
// /promote.
//
// A Service works on one repository. Its methods are safe for concurrent
// use; actions on the repository run one at a time.
package promote
