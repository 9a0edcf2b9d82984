// Package scenario sets up ensign's story on real servers and plays the parts
// of the systems around ensign: a GitOps repository on Gitea with a staging
// and a production overlay and a policy, the people who push to it, Flux
// (applying an overlay to the cluster and recording the applied revision) and
// Flagger (moving a canary through its phases and promoting its primary).
//
// The story test in cmd/ensign, the promote and rollback integration tests,
// the demo (cmd/ensign-demo) and the bot's benchmarks (cmd/ensign-bench,
// with a fleet of many apps and canaries) share it. It
// talks to the real Gitea and kube-apiserver the harness starts; it fakes
// nothing on their side. What it plays of Flux and Flagger is what those
// controllers write to the API server, not their logic.
package scenario
