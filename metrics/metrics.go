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

// Registry is ensign's metrics.
type Registry struct {
	reg *prometheus.Registry

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
}

// Build identifies the running binary for ensign_build_info.
type Build struct {
	Version, Commit, GoVersion string
}

// New registers every ensign metric plus the Go and process collectors.
func New(b Build) *Registry {
	reg := prometheus.NewRegistry()
	r := &Registry{
		reg: reg,
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_actions_total",
			Help: "Canary results ensign handled, by kind (promote, rollback) and outcome (done, error).",
		}, []string{"kind", "outcome"}),
		ActionSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_action_duration_seconds",
			Help:    "Time to handle one canary result, by kind (promote, rollback).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"kind"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ensign_leader",
			Help: "1 while this replica leads (acts on canaries and webhooks), 0 otherwise.",
		}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ensign_ready",
			Help: "1 once the canary caches have synced and this replica can act.",
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ensign_build_info",
		Help:        "Always 1; the labels say which ensign is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	info.Set(1)
	reg.MustRegister(r.Actions, r.ActionSeconds, r.Leader, r.Ready, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// ObserveAction records one handled canary result.
func (r *Registry) ObserveAction(kind string, took time.Duration, err error) {
	outcome := "done"
	if err != nil {
		outcome = "error"
	}
	r.Actions.WithLabelValues(kind, outcome).Inc()
	r.ActionSeconds.WithLabelValues(kind).Observe(took.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// Gatherer exposes the registry to tests and embedders.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }
