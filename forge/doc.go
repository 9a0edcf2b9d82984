// Package forge is ensign's client for Gitea: pull requests (open or adopt,
// edit, close, merge against an expected head), labels by name, the bot's own
// marker-keyed comments, repository permissions and team membership, branches,
// files and repository webhooks. It wraps code.gitea.io/sdk/gitea and returns
// its own small types, so consumers never see the SDK.
//
// Every method takes a context and runs each HTTP call under its own timeout
// (Config.CallTimeout); errors say what was being done ("merge pull request
// acme/gitops#12: ...") and wrap a *StatusError when Gitea answered with an
// error status, so callers can test errors.Is(err, ErrNotFound) or ask
// Transient(err) whether a retry may help. A Monitor, given the transports
// of every call to the server (API and Git), notices an outage, probes the
// server until it answers and then tells the caller, so that work waiting
// out a retry backoff can go at once.
//
// Writes check before they write: labels are added only when absent, the
// bot's comments are found by a hidden marker and edited in place, a pull
// request for an existing head branch is adopted rather than opened twice,
// and merges name the head SHA they expect. Repeating any call after a crash
// or restart converges on the same state.
//
// Concurrency: a *Client is safe for concurrent use. It caches label IDs per
// repository and the bot's own login; it serializes, within this process,
// read-modify-write updates of one pull request's status comment. Nothing is
// persisted; the only state left behind is what the calls create in Gitea.
package forge
