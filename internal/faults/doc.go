// Package faults is ensign's fault suite: it runs the real `ensign run`
// binary against the real servers the harness starts (Gitea,
// kube-apiserver + etcd), plays CI, people, Flux and Flagger with
// internal/scenario, injects faults (Gitea killed, frozen or cut off by a
// network partition or answering 503s, the API server restarted, ensign
// SIGKILLed, deliveries missed, an invalid policy, a leader fail-over) and
// measures, for every case, whether each canary failure was reverted
// exactly once (with one rollback comment on the pull request that brought
// the failing version, when one did, and one Rollback event), each
// verified version got exactly one promotion pull request, each comment
// command was answered exactly once, whether ensign wrote any comment
// twice, and how long after the end of the fault each revert landed and
// Git was right.
//
// Run drives the cases one after another on one Gitea and one API server
// (each case has its own repositories, namespaces and ensign processes) and
// returns a Row per case; Print renders them as the Markdown table that
// BENCHMARKS.md records. The Proxy is the TCP proxy between ensign and Gitea
// that partitions the network or answers 503.
//
// Everything the suite starts is stopped when Run returns; the harness's
// watchdog also kills the servers if the process dies. Timings are
// measurements for the table, never assertions: a case fails only when
// something was lost or done twice, or when it could not run at all.
package faults
