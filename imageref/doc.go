// Package imageref parses container image references as Kubernetes workloads
// carry them ("ghcr.io/acme/app:1.2.3", "app@sha256:...") and relates them to
// Kustomize `images:` entries (overlay.Image): which entry an image belongs
// to, whether an entry pins exactly that image, and the entry that would pin it.
//
// It is pure: no I/O, no state; safe for concurrent use.
package imageref
