package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// workqueueMetrics are client-go's work queue metrics under ensign's prefix,
// one series per queue name (the Name of the queue's config).
type workqueueMetrics struct {
	depth, unfinished, longest *prometheus.GaugeVec
	adds, retries              *prometheus.CounterVec
	latency, work              *prometheus.HistogramVec
}

func newWorkqueueMetrics() *workqueueMetrics {
	name := []string{"name"}
	return &workqueueMetrics{
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensign_workqueue_depth",
			Help: "Items waiting in a client-go work queue, by queue name.",
		}, name),
		adds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_workqueue_adds_total",
			Help: "Items added to a client-go work queue, by queue name.",
		}, name),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_workqueue_queue_duration_seconds",
			Help:    "Time an item waits in a client-go work queue before it is handled, by queue name.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, name),
		work: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ensign_workqueue_work_duration_seconds",
			Help:    "Time handling one item of a client-go work queue takes, by queue name.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, name),
		unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensign_workqueue_unfinished_work_seconds",
			Help: "Seconds of work in progress not yet observed by ensign_workqueue_work_duration_seconds; large values mean stuck handlers.",
		}, name),
		longest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensign_workqueue_longest_running_processor_seconds",
			Help: "How long the longest-running handler of a client-go work queue has been running, by queue name.",
		}, name),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensign_workqueue_retries_total",
			Help: "Items a client-go work queue re-queued with rate limiting, by queue name.",
		}, name),
	}
}

func (m *workqueueMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.depth, m.adds, m.latency, m.work, m.unfinished, m.longest, m.retries}
}

// WorkqueueProvider returns the client-go work queue metrics provider that
// records into this registry as ensign_workqueue_*{name}. cmd/ensign installs
// it once, before any queue is made, with workqueue.SetProvider (a process-wide
// setting whose first call wins); a queue can also take it in its config's
// MetricsProvider. Queues with the same name share their series.
func (r *Registry) WorkqueueProvider() workqueue.MetricsProvider {
	return workqueueProvider{r.workqueue}
}

type workqueueProvider struct{ m *workqueueMetrics }

func (p workqueueProvider) NewDepthMetric(name string) workqueue.GaugeMetric {
	return p.m.depth.WithLabelValues(name)
}

func (p workqueueProvider) NewAddsMetric(name string) workqueue.CounterMetric {
	return p.m.adds.WithLabelValues(name)
}

func (p workqueueProvider) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return p.m.latency.WithLabelValues(name)
}

func (p workqueueProvider) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return p.m.work.WithLabelValues(name)
}

func (p workqueueProvider) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.m.unfinished.WithLabelValues(name)
}

func (p workqueueProvider) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.m.longest.WithLabelValues(name)
}

func (p workqueueProvider) NewRetriesMetric(name string) workqueue.CounterMetric {
	return p.m.retries.WithLabelValues(name)
}
