// Package metrics owns ensign's Prometheus metrics: one registry, every
// metric named ensign_*, with bounded labels only (never a SHA, PR number or
// user). Other packages do not import it; cmd/ensign records into it at the
// seams it wires (canary handling, the HTTP mux, the Gitea client's
// transport, hooks of the webhook receiver and command dispatcher), so
// instrumenting ensign never changes a service's code.
//
// What ensign exports (counters that take a fixed label set start at zero):
//
//	ensign_actions_total{kind,outcome}              canary results handled; kind promote|rollback, outcome done|error
//	ensign_action_duration_seconds{kind}            histogram: time to handle one canary result
//	ensign_rollback_latency_seconds{mode}           histogram: canary Failed transition → revert pushed (push) or revert PR opened (pr)
//	ensign_promotion_latency_seconds{step}          histogram: canary Succeeded transition → promotion PR opened|merged, or commit pushed
//	ensign_gitea_requests_total{operation,code}     Gitea API requests; operation is "METHOD /route/{template}", code the HTTP status or error
//	ensign_gitea_request_duration_seconds{operation} histogram: Gitea API request duration
//	ensign_git_operations_total{operation,result}   Git clone|fetch|commit|revert|push|repack, result ok|rejected|conflict|error
//	ensign_git_operation_duration_seconds{operation} histogram: Git operation duration
//	ensign_webhook_deliveries_total{event,result}   event issue_comment|pull_request|push|other; result accepted|ignored|replay|
//	                                                bad_signature|too_large|bad_request|busy|queue_full|shutting_down
//	ensign_commands_total{command,result}           help|status|hold|unhold|promote|promote-now|rollback|unknown; done|refused|failed
//	ensign_queue_depth{queue}                       items waiting in ensign's own queues (webhook)
//	ensign_window_open{repo,app,stage}              1 while the stage's windows are open; repo is one of ENSIGN_REPOS,
//	                                                app and stage come from its policy
//	ensign_leader                                   1 while this replica leads
//	ensign_ready                                    1 once the canary caches have synced
//	ensign_build_info{version,commit,goversion}     always 1
//	ensign_workqueue_depth{name}                    client-go work queues (canaries, failed-canaries), through
//	ensign_workqueue_adds_total{name}               WorkqueueProvider
//	ensign_workqueue_queue_duration_seconds{name}
//	ensign_workqueue_work_duration_seconds{name}
//	ensign_workqueue_unfinished_work_seconds{name}
//	ensign_workqueue_longest_running_processor_seconds{name}
//	ensign_workqueue_retries_total{name}
//	go_*, process_*                                 the Go runtime and process collectors
//
// Labels stay bounded by construction: values that come from outside (the
// X-Gitea-Event header, a comment's /word) are mapped onto fixed sets, Gitea
// operations are route templates with every value replaced by a placeholder,
// and the only names from configuration are the repositories of ENSIGN_REPOS
// and the apps and stages of their policies.
//
// A Registry is safe for concurrent use. It holds no state beyond the
// counters, gauges and histograms it exports.
package metrics
