// Package route owns which repository, app and stage an event belongs to.
// A Router holds the GitOps repositories ensign manages, each with its
// services, and an index from every canary the policies name to the one
// repository whose policy names it, built from the policies and rebuilt when
// one changes (Refresh). A canary result goes to its owner's service only,
// after the router looked it up and before any repository takes its lock or
// fetches; a canary no policy names is ignored. Comment commands go to the
// repository they were written in.
//
// The router also classifies what a canary's handling returned, once, at the
// top: a terminal error (an invalid policy with no valid one to fall back
// on, nothing to promote, an unverified revision, no introducing commit, a
// Gitea or Kubernetes refusal that retrying cannot fix) becomes a Warning
// Event on the canary and the result is dropped until the canary changes or
// the next resync; anything else is retried with backoff by the watcher.
// Repositories never share an error: one repository's broken policy does
// not stop another's rollback.
//
// A policy file that does not load keeps the repository on its last valid
// policy (see workspace): its canaries stay watched, its rollbacks go on,
// its promotions wait, and the deploy branch's tip gets a failing
// "ensign/policy" commit status saying why.
//
// A Router is safe for concurrent use. It keeps only the index and each
// repository's last policy state in memory; everything else is read from
// Git, Gitea and the clusters.
package route
