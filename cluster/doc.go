// Package cluster holds ensign's connections to the Kubernetes clusters the
// policy names, and answers the services' questions about a stage in its
// cluster: which images a canary's workloads run, which events it has, which
// Flux Kustomization delivers an overlay and what it applied; and it records
// ensign's own events and asks Flux to reconcile.
//
// A Set is built once from kubeconfigs and is safe for concurrent use. It
// keeps no state besides the clients.
package cluster
