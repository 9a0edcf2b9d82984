// Package policy owns ensign's per-repository policy file (.ensign.yaml): its
// schema and defaults, strict loading with positioned validation errors, the
// pipeline queries the services need (which stage a canary proves, which
// stages follow it, what to do when it fails), command permissions, and
// promotion window evaluation.
//
// # Loading
//
// Load decodes one YAML document strictly: unknown or repeated fields, wrong
// types, bad values and broken cross-references are all collected into one
// *Error whose Problems read "file:line:col: field.path: message". A policy
// with any problem yields no Policy at all, so a repository with an invalid
// policy is never acted on. Defaults make a few lines enough: apiVersion
// plus one app whose stages name an overlay and a canary namespace.
//
// # Windows
//
// A Window starts whenever its 5-field cron schedule matches the wall clock
// of its IANA time zone and lasts a fixed elapsed Duration. Evaluate combines
// the windows that apply to a stage: no windows means always open; otherwise
// any active deny window closes the stage, and if there are allow windows
// the stage is open only while one is active. State.Since, Until and Next
// say when the current state began, when it ends and when the stage next
// opens. Cron schedules are parsed and stepped by robfig/cron/v3 on
// wall-clock readings; this package maps them to instants so that starts in
// a spring-forward gap happen when the gap ends and starts in a repeated
// autumn hour happen once (as ISC cron does).
//
// # Purity and concurrency
//
// The package does no I/O of its own, reads no clock and holds no clients:
// callers pass file contents to Load and the instant to Evaluate. The one
// exception is time zone lookup (time.LoadLocation, which reads the host's
// zoneinfo and falls back to the copy embedded by time/tzdata). Everything
// is safe to call from any goroutine; a *Policy from Load is never modified
// by this package, and callers must treat it as read-only when sharing it.
//
// The package leaves no state behind.
package policy
