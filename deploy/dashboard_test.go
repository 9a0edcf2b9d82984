package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"

	"github.com/ensignbot/ensign/metrics"
)

var dashboardFile = filepath.Join(chartDir, "dashboards", "ensign.json")

// targetLabels are the labels Prometheus adds to every series it scrapes
// through a ServiceMonitor.
var targetLabels = []string{"namespace", "pod", "job", "instance", "service", "container", "endpoint"}

// exported returns every series name ensign's registry exports (histograms
// with their _bucket, _sum and _count series) and each one's labels.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	r := metrics.New(metrics.Build{Version: "v0", Commit: "c", GoVersion: "go"})
	// Record one of each, so every labelled metric has a series to gather.
	r.ObserveAction(metrics.KindRollback, time.Second, nil)
	r.Leader.Set(1)
	r.Ready.Set(1)
	r.ObserveRollbackLatency(metrics.RollbackPush, time.Second)
	r.ObservePromotionLatency(metrics.PromotionOpened, time.Second)
	r.ObserveGiteaRequest("GET /version", 200, time.Millisecond)
	r.ObserveGit(metrics.GitPush, metrics.GitOK, time.Millisecond)
	r.ObserveDelivery("push", metrics.DeliveryAccepted)
	r.ObserveCommand("hold", metrics.CommandDone)
	r.SetQueueDepth(metrics.QueueWebhook, 1)
	r.SetWindows("acme/gitops", []metrics.Window{{App: "podinfo", Stage: "production", Open: true}})
	p := r.WorkqueueProvider()
	p.NewDepthMetric("canaries").Inc()
	p.NewAddsMetric("canaries").Inc()
	p.NewLatencyMetric("canaries").Observe(1)
	p.NewWorkDurationMetric("canaries").Observe(1)
	p.NewUnfinishedWorkSecondsMetric("canaries").Set(1)
	p.NewLongestRunningProcessorSecondsMetric("canaries").Set(1)
	p.NewRetriesMetric("canaries").Inc()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		var labels []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		out[mf.GetName()] = labels
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[mf.GetName()+"_bucket"] = append(slices.Clone(labels), "le")
			fallthrough
		case dto.MetricType_SUMMARY:
			out[mf.GetName()+"_sum"] = labels
			out[mf.GetName()+"_count"] = labels
		}
	}
	return out
}

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets (rows included) and the template variables' queries.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	out := map[string]string{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			// label_values(metric, label) names a metric and one of its labels.
			args := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ")")
			metric, label, _ := strings.Cut(args, ",")
			out["variable "+v.Name] = strings.TrimSpace(metric) + `{` + strings.TrimSpace(label) + `=~".*"}`
		}
	}
	return out
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// TestDashboardQueriesNameExportedMetrics: every query of the dashboard names
// only metrics ensign exports, with labels those metrics have, and the
// dashboard covers what issue 12 asks of it.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	have := exported(t)
	queries := dashboardQueries(t)
	if len(queries) < 10 {
		t.Fatalf("only %d queries in %s", len(queries), dashboardFile)
	}
	used := map[string]bool{}
	for where, expr := range queries {
		q, err := parsePromQL(expr)
		if err != nil {
			t.Errorf("%s: %v in %s", where, err, expr)
			continue
		}
		if len(q.metrics) == 0 {
			t.Errorf("%s: no metric in %s", where, expr)
		}
		var labels []string
		for _, m := range q.metrics {
			used[m.name] = true
			ml, ok := have[m.name]
			if !ok {
				t.Errorf("%s: %s is not a metric ensign exports (%s)", where, m.name, expr)
				continue
			}
			labels = append(labels, ml...)
			for _, l := range m.matchers {
				if !slices.Contains(ml, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", where, m.name, l, ml)
				}
			}
		}
		for _, l := range q.grouping {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				t.Errorf("%s: groups by %q, which none of its metrics has (%s)", where, l, expr)
			}
		}
	}
	for _, want := range []string{"ensign_actions_total", "ensign_rollback_latency_seconds_bucket", "ensign_promotion_latency_seconds_bucket",
		"ensign_window_open", "ensign_leader", "ensign_gitea_requests_total", "ensign_webhook_deliveries_total", "ensign_git_operations_total"} {
		if !used[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

// TestDashboardShipsInTheChart: the chart's dashboard ConfigMap carries the
// JSON file unchanged, labelled for Grafana's sidecar.
func TestDashboardShipsInTheChart(t *testing.T) {
	want, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range decodeAll(t, mustRender(t, "ensign", "ensign", []string{caseValues("defaults")})) {
		if o.GetKind() != "ConfigMap" || o.GetName() != "ensign-dashboard" {
			continue
		}
		var cm corev1.ConfigMap
		fromManifest(t, o, &cm)
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("labels %v: Grafana's sidecar looks for grafana_dashboard: \"1\"", cm.Labels)
		}
		var got, file any
		if err := json.Unmarshal([]byte(cm.Data["ensign.json"]), &got); err != nil {
			t.Fatalf("the ConfigMap's ensign.json: %v", err)
		}
		_ = json.Unmarshal(want, &file)
		if !reflect.DeepEqual(got, file) {
			t.Fatal("the ConfigMap's ensign.json differs from dashboards/ensign.json")
		}
		return
	}
	t.Fatal("the chart renders no ConfigMap ensign-dashboard")
}
