// Package command turns pull request comments into authorized actions:
// Parse finds the commands in a comment (/promote, /promote now,
// /rollback [sha], /hold [reason], /unhold, /status, /help), Authorize
// decides from Gitea permission facts whether the commenter may run one, and
// a Dispatcher runs them and answers in the pull request.
//
// The policy comes from Repos (the router, which reads it from the
// repository's Git cache as the services do): a repository without a policy
// file is not managed, one whose policy does not load gets that answer, and
// a read failure is told apart from both. /hold and /unhold are carried out
// here (the policy's hold label plus a "hold" section in the bot's status
// comment). /promote, /rollback and /status go to the repository's services
// through Services, which return typed outcomes; this package renders them
// (render.go), so the services never write replies.
//
// Catching up: Gitea does not redeliver a failed delivery, so CatchUp looks
// through the open pull requests for commands with no answer yet and
// handles them as their deliveries would have been.
//
// Answers: each triggering comment gets exactly one bot answer, keyed by a
// hidden marker holding the comment's ID (vocab.ReplyMarker), with one entry
// per command in order. Before running anything the Dispatcher looks for
// that answer; if it exists the comment was handled already (a redelivery,
// or a restart, or CatchUp), and nothing runs again. Holds and the status comment are
// idempotent, so a crash between acting and answering is repaired by the
// next delivery of the same comment.
//
// Concurrency: a Dispatcher is safe for concurrent use; comments on one pull
// request are handled one at a time within this process (in arrival order
// at the lock, which need not be the order they were written). The package
// keeps no state between comments; everything it leaves behind is in Gitea.
package command
