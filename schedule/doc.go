// Package schedule owns the promotion scheduler: it calls a Merger when a
// promotion window opens, so that promotions queued while windows were
// closed are merged on time.
//
// The scheduler fires once at start-up if any stage is open (this covers a
// window that opened before the process started), at every instant a stage's
// windows go from closed to open (an allow window starting, or a deny window
// ending), and again with backoff after a merge that failed, while stages are
// still open. At each firing it re-reads the policy and re-checks
// policy.Evaluate at that moment; if no stage is open it does not call the
// Merger.
//
// Window times come from robfig/cron/v3 through package policy. The
// scheduler does not use cron.Cron, which reads the real clock: it waits on
// an injected Clock, so tests drive it with a ManualClock and no sleeps.
//
// Concurrency: one goroutine (started by Start, ended by Stop) reads the
// policy and calls the Merger; calls never overlap, and an opening that
// passes while a merge is still running is handled right after it (runs are
// coalesced, never stacked and never lost). Panics in the Merger or the
// policy source are recovered and treated as errors. Start, Stop and Kick
// are safe to call from any goroutine.
//
// State: none outside the running goroutine; queued promotions live in Git
// and Gitea, so a restart loses nothing.
package schedule
