// Package cluster owns everything ensign reads from or writes to the
// Kubernetes clusters the policy names: it holds the connections, reads and
// decodes Flagger canaries (tolerating what Flagger's CRD allows and its Go
// types do not), answers the services' questions about a stage in its
// cluster (which images a canary's target and primary workloads run, its
// recent Warning events, which Flux Kustomization delivers an overlay and
// what it applied), records ensign's own events on canaries (once per key)
// and asks Flux to reconcile.
//
// A Set is built once from kubeconfigs and is safe for concurrent use. It
// keeps no state besides the clients.
package cluster
