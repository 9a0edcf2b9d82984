// Package webhook is ensign's receiver for Gitea webhooks: an http.Handler
// serving POST /webhooks/gitea, GET /healthz and GET /readyz.
//
// A delivery is checked in this order, and nothing is parsed before the
// signature is verified: a body over Config.MaxBodyBytes gets 413; a missing
// or wrong X-Gitea-Signature (lowercase hex HMAC-SHA256 of the raw body with
// the shared secret, compared in constant time) gets 401; a missing delivery
// id, a non-JSON content type or a malformed payload gets 400; an event ensign
// does not act on (unknown events, edited or deleted comments, comments on
// issues, comments by ensign's own account) gets 202 and nothing is done; a
// delivery id seen before gets 202 and is ignored; anything else is queued
// and acknowledged at once with 202, or refused with 503 if the queue is full
// or the server is shutting down.
//
// Concurrency: queued events run on a fixed pool of Config.Workers
// goroutines, each call under a context derived from the server's own
// lifetime context (held by the Server because it must outlive the request
// that delivered the event) with Config.HandlerTimeout. Events of one pull
// request may run concurrently and in any order; handlers serialize what
// needs it. Shutdown stops intake and drains the queue; if its context ends
// first it cancels the running handlers and waits for them.
//
// State: replay protection remembers delivery ids in memory only (bounded by
// Config.DedupSize and Config.DedupTTL), so it is per process: after a
// restart, or across replicas, a replayed delivery is handled again. The
// handlers are written to be idempotent for that reason. Nothing is persisted.
package webhook
