package metrics

import (
	"slices"
	"time"
)

// Kinds of canary results (ensign_actions_total, ensign_action_duration_seconds).
const (
	KindPromote  = "promote"
	KindRollback = "rollback"
)

// Outcomes of handling a canary result (ensign_actions_total).
const (
	OutcomeDone  = "done"
	OutcomeError = "error"
)

// ObserveAction records one handled canary result of kind (KindPromote,
// KindRollback): done when err is nil, error otherwise.
func (r *Registry) ObserveAction(kind string, took time.Duration, err error) {
	outcome := OutcomeDone
	if err != nil {
		outcome = OutcomeError
	}
	r.Actions.WithLabelValues(kind, outcome).Inc()
	r.ActionSeconds.WithLabelValues(kind).Observe(took.Seconds())
}

// RollbackMode is how a revert reached Git (ensign_rollback_latency_seconds).
type RollbackMode string

// Rollback modes.
const (
	// RollbackPush: the revert was pushed to the deploy branch.
	RollbackPush RollbackMode = "push"
	// RollbackPR: a revert pull request was opened.
	RollbackPR RollbackMode = "pr"
)

// ObserveRollbackLatency records the time from a canary's Failed transition
// to its revert pushed or revert pull request opened. A negative duration
// (clocks apart) counts as zero.
func (r *Registry) ObserveRollbackLatency(mode RollbackMode, sinceFailed time.Duration) {
	r.rollbackLatency.WithLabelValues(string(mode)).Observe(seconds(sinceFailed))
}

// PromotionStep is how far a promotion got (ensign_promotion_latency_seconds).
type PromotionStep string

// Promotion steps.
const (
	// PromotionOpened: the promotion pull request was opened.
	PromotionOpened PromotionStep = "opened"
	// PromotionMerged: the promotion pull request was merged.
	PromotionMerged PromotionStep = "merged"
	// PromotionPushed: the promotion was committed to the deploy branch
	// (a stage with mode: push).
	PromotionPushed PromotionStep = "pushed"
)

// ObservePromotionLatency records the time from the source stage's canary
// Succeeded transition to the promotion reaching step. A negative duration
// counts as zero.
func (r *Registry) ObservePromotionLatency(step PromotionStep, sinceSucceeded time.Duration) {
	r.promotionLatency.WithLabelValues(string(step)).Observe(seconds(sinceSucceeded))
}

// GitOp is a Git operation ensign runs (ensign_git_operations_total).
type GitOp string

// Git operations.
const (
	GitClone  GitOp = "clone"
	GitFetch  GitOp = "fetch"
	GitCommit GitOp = "commit"
	GitRevert GitOp = "revert"
	GitPush   GitOp = "push"
	// GitRepack is the cache rolling its small packs and loose objects
	// into one pack (local; no call to Gitea).
	GitRepack GitOp = "repack"
)

// GitResult is how a Git operation ended.
type GitResult string

// Git results.
const (
	GitOK GitResult = "ok"
	// GitRejected: the server refused a push because the branch moved.
	GitRejected GitResult = "rejected"
	// GitConflict: a revert could not be written without a person.
	GitConflict GitResult = "conflict"
	GitError    GitResult = "error"
)

// ObserveGit records one Git operation and how long it took.
func (r *Registry) ObserveGit(op GitOp, result GitResult, took time.Duration) {
	r.gitOps.WithLabelValues(string(op), string(result)).Inc()
	r.gitSeconds.WithLabelValues(string(op)).Observe(seconds(took))
}

// webhookEvents are the X-Gitea-Event values ensign tells apart; anything
// else is counted as EventOther, since the header is chosen by the sender.
var webhookEvents = []string{"issue_comment", "pull_request", "push", EventOther}

// EventOther is the event label of a delivery whose X-Gitea-Event ensign does
// not handle, or that was rejected before it could be trusted.
const EventOther = "other"

// DeliveryResult is what ensign answered a webhook delivery.
type DeliveryResult string

// Delivery results.
const (
	DeliveryAccepted     DeliveryResult = "accepted"      // queued for a worker (202)
	DeliveryIgnored      DeliveryResult = "ignored"       // verified, nothing to do (202)
	DeliveryReplay       DeliveryResult = "replay"        // a delivery id seen before (202)
	DeliveryBadSignature DeliveryResult = "bad_signature" // X-Gitea-Signature missing or wrong (401)
	DeliveryTooLarge     DeliveryResult = "too_large"     // over the body limit (413)
	DeliveryBadRequest   DeliveryResult = "bad_request"   // malformed delivery id, content type or payload (400)
	DeliveryBusy         DeliveryResult = "busy"          // the shared body memory budget is spent (503)
	DeliveryQueueFull    DeliveryResult = "queue_full"    // no room in the work queue (503)
	DeliveryShuttingDown DeliveryResult = "shutting_down" // intake stopped (503)
)

var deliveryResults = []DeliveryResult{DeliveryAccepted, DeliveryIgnored, DeliveryReplay, DeliveryBadSignature,
	DeliveryTooLarge, DeliveryBadRequest, DeliveryBusy, DeliveryQueueFull, DeliveryShuttingDown}

// ObserveDelivery records one webhook delivery. event is the X-Gitea-Event
// header as received: values other than issue_comment, pull_request and push
// are counted as "other", so a sender cannot add series.
func (r *Registry) ObserveDelivery(event string, result DeliveryResult) {
	if !slices.Contains(webhookEvents, event) {
		event = EventOther
	}
	r.deliveries.WithLabelValues(event, string(result)).Inc()
}

// commandNames are the comment commands (policy.CommandNames).
var commandNames = []string{"help", "status", "hold", "unhold", "promote", "promote-now", "rollback", "freeze", "unfreeze"}

// CommandUnknown is the command label of a /word ensign answered with help.
const CommandUnknown = "unknown"

// CommandResult is how a comment command ended.
type CommandResult string

// Command results.
const (
	CommandDone    CommandResult = "done"    // carried out (or nothing to do)
	CommandRefused CommandResult = "refused" // not allowed, or not applicable; answered
	CommandFailed  CommandResult = "failed"  // an error; answered
)

// ObserveCommand records one comment command. Names other than ensign's
// commands are counted as "unknown".
func (r *Registry) ObserveCommand(name string, result CommandResult) {
	if !slices.Contains(commandNames, name) {
		name = CommandUnknown
	}
	r.commands.WithLabelValues(name, string(result)).Inc()
}

// QueueWebhook is the queue of verified webhook deliveries waiting for a worker.
const QueueWebhook = "webhook"

// SetQueueDepth records how many items wait in one of ensign's own queues
// (QueueWebhook). client-go work queues report through WorkqueueProvider.
func (r *Registry) SetQueueDepth(queue string, n int) {
	r.queueDepth.WithLabelValues(queue).Set(float64(n))
}

// Window is whether one stage's promotion windows are open.
type Window struct {
	App, Stage string
	Open       bool
}

// SetWindows replaces the window state of one configured repository (one of
// ENSIGN_REPOS) with the stages of its current policy: stages the policy no
// longer has disappear from ensign_window_open. A scrape at any moment sees
// every stage of either the previous call or this one.
func (r *Registry) SetWindows(repo string, windows []Window) {
	r.windowOpen.set(repo, windows)
}

func seconds(d time.Duration) float64 {
	return max(d, 0).Seconds()
}
