// Package policy owns ensign's per-repository policy file (.ensign.yaml): its
// schema and defaults, strict loading with positioned validation errors, the
// promotion pipeline queries the services need (which stage a canary proves,
// which stages follow it), command permissions, and promotion window
// evaluation.
//
// The package is pure: it does no I/O, reads no clock and holds no clients.
// Callers pass file contents to Load and the current time to Evaluate, so
// everything here is deterministic and safe to call from any goroutine. A
// *Policy returned by Load is never modified by this package; callers must
// treat it as read-only if they share it between goroutines.
//
// The package leaves no state behind.
package policy
