// Package flux asks Flux to act now and reads what Flux applied, through the
// Kubernetes API of the cluster Flux runs in.
//
// RequestReconcile sets the reconcile.fluxcd.io/requestedAt annotation on a
// GitRepository or Kustomization, which is what `flux reconcile` does: Flux
// reconciles the object at once instead of at its next interval.
// Kustomizations finds the Kustomizations that deliver an overlay path and
// reports their last applied revision.
//
// Functions here hold no state and are safe for concurrent use.
package flux
