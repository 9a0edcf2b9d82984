package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Bucket sets, in seconds. Handling one event takes milliseconds to
// minutes; a promotion may wait days for its window.
var (
	callBuckets    = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	actionBuckets  = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
	rollbackBucket = []float64{0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600}
	promoteBuckets = []float64{0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400}
)

// Registry is ensign's metrics: a Prometheus registry holding every ensign_*
// metric, the Go and process collectors, and the client-go work queue
// metrics (through WorkqueueProvider).
type Registry struct {
	reg *prometheus.Registry
	// own lists ensign's collectors (not the Go and process ones), for tests.
	own []prometheus.Collector

	// Actions counts the canary results ensign handled, by kind (promote,
	// rollback) and outcome (done, error).
	Actions *prometheus.CounterVec
	// ActionSeconds is how long handling one canary result took, by kind.
	ActionSeconds *prometheus.HistogramVec
	// Leader is 1 while this replica holds the leader lease (or runs
	// without leader election), 0 otherwise.
	Leader prometheus.Gauge
	// Ready is 1 once the canary caches have synced.
	Ready prometheus.Gauge

	rollbackLatency  *prometheus.HistogramVec
	promotionLatency *prometheus.HistogramVec
	giteaRequests    *prometheus.CounterVec
	giteaSeconds     *prometheus.HistogramVec
	gitOps           *prometheus.CounterVec
	gitSeconds       *prometheus.HistogramVec
	deliveries       *prometheus.CounterVec
	commands         *prometheus.CounterVec
	queueDepth       *prometheus.GaugeVec
	windowOpen       *windowGauges
	workqueue        *workqueueMetrics
}

// Build identifies the running binary for ensign_build_info.
type Build struct {
	Version, Commit, GoVersion string
}

// New registers every ensign metric plus the Go and process collectors.
// Counters whose labels take a fixed set of values start at zero for every
// combination, so rate() sees them before their first increment.
func New(b Build) *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_actions_total",
			Help: "Canary results ensign handled, by kind (promote, rollback) and outcome (done, error).",
		}, []string{"kind", "outcome"}),
		ActionSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_action_duration_seconds",
			Help:    "Time to handle one canary result, by kind (promote, rollback).",
			Buckets: actionBuckets,
		}, []string{"kind"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ensign_leader",
			Help: "1 while this replica leads (acts on canaries and webhooks), 0 otherwise.",
		}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ensign_ready",
			Help: "1 once the canary caches have synced and this replica can act.",
		}),
		rollbackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_rollback_latency_seconds",
			Help:    "Time from a canary's Failed transition to its revert pushed (mode push) or its revert pull request opened (mode pr).",
			Buckets: rollbackBucket,
		}, []string{"mode"}),
		promotionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_promotion_latency_seconds",
			Help:    "Time from a canary's Succeeded transition to the promotion's pull request opened, merged, or its commit pushed (step).",
			Buckets: promoteBuckets,
		}, []string{"step"}),
		giteaRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_gitea_requests_total",
			Help: "Gitea API requests, by operation (method and route template) and HTTP status code (error: no response).",
		}, []string{"operation", "code"}),
		giteaSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_gitea_request_duration_seconds",
			Help:    "Duration of Gitea API requests, by operation.",
			Buckets: callBuckets,
		}, []string{"operation"}),
		gitOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_git_operations_total",
			Help: "Git operations, by operation (clone, fetch, commit, revert, push) and result (ok, rejected, conflict, error).",
		}, []string{"operation", "result"}),
		gitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_git_operation_duration_seconds",
			Help:    "Duration of Git operations, by operation.",
			Buckets: callBuckets,
		}, []string{"operation"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_webhook_deliveries_total",
			Help: "Gitea webhook deliveries, by event (issue_comment, pull_request, push, other) and result.",
		}, []string{"event", "result"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_commands_total",
			Help: "Pull request comment commands, by command and result (done, refused, failed).",
		}, []string{"command", "result"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensign_queue_depth",
			Help: "Items waiting in one of ensign's own queues (webhook: verified deliveries waiting for a worker).",
		}, []string{"queue"}),
		windowOpen: newWindowGauges(),
		workqueue:  newWorkqueueMetrics(),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ensign_build_info",
		Help:        "Always 1; the labels say which ensign is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	info.Set(1)
	r.own = append([]prometheus.Collector{r.Actions, r.ActionSeconds, r.Leader, r.Ready, info,
		r.rollbackLatency, r.promotionLatency, r.giteaRequests, r.giteaSeconds, r.gitOps, r.gitSeconds,
		r.deliveries, r.commands, r.queueDepth, r.windowOpen}, r.workqueue.collectors()...)
	r.reg.MustRegister(r.own...)
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.initCounters()
	return r
}

// initCounters creates the zero-valued series of the counters with fixed
// label sets.
func (r *Registry) initCounters() {
	for _, kind := range []string{KindPromote, KindRollback} {
		for _, outcome := range []string{OutcomeDone, OutcomeError} {
			r.Actions.WithLabelValues(kind, outcome)
		}
	}
	for _, event := range webhookEvents {
		for _, result := range deliveryResults {
			r.deliveries.WithLabelValues(event, string(result))
		}
	}
	for _, name := range append(commandNames[:len(commandNames):len(commandNames)], CommandUnknown) {
		for _, result := range []CommandResult{CommandDone, CommandRefused, CommandFailed} {
			r.commands.WithLabelValues(name, string(result))
		}
	}
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// Gatherer exposes the registry to tests and embedders.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }
