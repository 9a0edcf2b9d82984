// Package gate makes the promotion windows, holds and Flux suspensions bind
// every change to a gated stage, not only ensign's own merges. A stage is
// gated when it has windows, or while Flux is suspended for it.
//
// For every open pull request the gate keeps a commit status
// (vocab.WindowContext, "ensign/window") on its head: success while every
// gated stage the pull request changes is open, nothing holds it and Flux
// applies it; pending with the reason ("closed until <time> (window
// <name>)", "held by <who>: <reason>", "Flux suspended for <stage>");
// failure while a deny window freezes one of its stages; and success with
// who and when after a person's /promote now on that head. A pull request
// that changes no gated stage gets success at once, so the status can be a
// required check of the deploy branch's protection without blocking other
// changes. Decide is the pure decision; Service gathers the facts from Git,
// Gitea and the clusters and writes the status.
//
// The same decision answers Flagger's confirm-rollout and
// confirm-promotion webhooks (Allow): a rollout in a gated stage goes ahead
// only while the stage is open, and always when it brings back the version
// the primary runs (a rollback), so a freeze never blocks a revert.
//
// A Service is safe for concurrent use. It keeps in memory only the last
// status it wrote per head, to avoid rewriting the same one.
package gate
