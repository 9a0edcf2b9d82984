package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"k8s.io/client-go/util/workqueue"

	"github.com/ensignbot/ensign/policy"
)

// recordOneOfEach moves every ensign metric once through its public helper.
func recordOneOfEach(t *testing.T, r *Registry) {
	t.Helper()
	r.ObserveAction(KindRollback, 2*time.Second, nil)
	r.ObserveAction(KindPromote, time.Second, errors.New("boom"))
	r.Leader.Set(1)
	r.Ready.Set(1)
	r.ObserveRollbackLatency(RollbackPush, 3*time.Second)
	r.ObservePromotionLatency(PromotionMerged, 2*time.Hour)
	r.ObserveGiteaRequest("POST /repos/{owner}/{repo}/pulls", 201, 40*time.Millisecond)
	r.ObserveGiteaRequest("GET /version", 0, time.Second)
	r.ObserveGit(GitPush, GitRejected, 80*time.Millisecond)
	r.ObserveDelivery("issue_comment", DeliveryAccepted)
	r.ObserveCommand("hold", CommandRefused)
	r.SetQueueDepth(QueueWebhook, 3)
	r.SetWindows("acme/gitops", []Window{{App: "podinfo", Stage: "production", Open: true}})
	// No delay, so the rate-limited add lands before the scrape.
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedItemExponentialFailureRateLimiter[string](0, 0),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "canaries", MetricsProvider: r.WorkqueueProvider()})
	defer q.ShutDown()
	q.Add("a")
	q.AddRateLimited("b")
	item, _ := q.Get()
	q.Done(item)
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", Path, rec.Code, body)
	}
	return string(body)
}

func TestHandlerExportsEnsignMetrics(t *testing.T) {
	r := New(Build{Version: "v1.0.0", Commit: "abc", GoVersion: "go1.26.8"})
	recordOneOfEach(t, r)
	body := scrape(t, r)
	for _, want := range []string{
		`ensign_actions_total{kind="rollback",outcome="done"} 1`,
		`ensign_actions_total{kind="promote",outcome="error"} 1`,
		`ensign_actions_total{kind="promote",outcome="done"} 0`,
		`ensign_action_duration_seconds_count{kind="rollback"} 1`,
		`ensign_leader 1`,
		`ensign_ready 1`,
		`ensign_build_info{commit="abc",goversion="go1.26.8",version="v1.0.0"} 1`,
		`ensign_rollback_latency_seconds_bucket{mode="push",le="5"} 1`,
		`ensign_rollback_latency_seconds_count{mode="push"} 1`,
		`ensign_promotion_latency_seconds_bucket{step="merged",le="14400"} 1`,
		`ensign_promotion_latency_seconds_bucket{step="merged",le="3600"} 0`,
		`ensign_gitea_requests_total{code="201",operation="POST /repos/{owner}/{repo}/pulls"} 1`,
		`ensign_gitea_requests_total{code="error",operation="GET /version"} 1`,
		`ensign_gitea_request_duration_seconds_count{operation="GET /version"} 1`,
		`ensign_git_operations_total{operation="push",result="rejected"} 1`,
		`ensign_git_operation_duration_seconds_sum{operation="push"} 0.08`,
		`ensign_webhook_deliveries_total{event="issue_comment",result="accepted"} 1`,
		`ensign_webhook_deliveries_total{event="other",result="bad_signature"} 0`,
		`ensign_commands_total{command="hold",result="refused"} 1`,
		`ensign_commands_total{command="unknown",result="done"} 0`,
		`ensign_queue_depth{queue="webhook"} 3`,
		`ensign_window_open{app="podinfo",repo="acme/gitops",stage="production"} 1`,
		`ensign_workqueue_adds_total{name="canaries"} 2`,
		`ensign_workqueue_depth{name="canaries"} 1`,
		`ensign_workqueue_retries_total{name="canaries"} 1`,
		`ensign_workqueue_queue_duration_seconds_count{name="canaries"} 1`,
		`ensign_workqueue_work_duration_seconds_count{name="canaries"} 1`,
		`ensign_workqueue_unfinished_work_seconds{name="canaries"}`,
		`ensign_workqueue_longest_running_processor_seconds{name="canaries"}`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestEveryMetricIsExercised: recordOneOfEach (which the dashboard test in
// deploy copies) moves every metric the registry describes, so a gathered
// registry shows them all.
func TestEveryMetricIsExercised(t *testing.T) {
	r := New(Build{})
	recordOneOfEach(t, r)
	described := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range r.own {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %s", d)
		}
		described[m[1]] = true
	}
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	gathered := map[string]bool{}
	for _, mf := range mfs {
		gathered[mf.GetName()] = true
	}
	if len(described) < 20 {
		t.Fatalf("only %d metrics described: %v", len(described), described)
	}
	for name := range described {
		if !strings.HasPrefix(name, "ensign_") {
			t.Errorf("%s lacks the ensign_ prefix", name)
		}
		if !gathered[name] {
			t.Errorf("%s is registered but recordOneOfEach does not record it", name)
		}
	}
}

// TestMetricsFollowPrometheusConventions runs Prometheus' own linter (units,
// _total counters, base units, help text) over everything exported.
func TestMetricsFollowPrometheusConventions(t *testing.T) {
	r := New(Build{Version: "v1", Commit: "c", GoVersion: "go"})
	recordOneOfEach(t, r)
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "ensign_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// TestLabelsStayBounded: label values that come from outside (a webhook's
// event header, a comment's /word) cannot add series.
func TestLabelsStayBounded(t *testing.T) {
	tests := []struct {
		name   string
		record func(r *Registry)
		want   string
	}{
		{"unknown event", func(r *Registry) { r.ObserveDelivery("x-evil-"+strings.Repeat("a", 100), DeliveryBadSignature) },
			`ensign_webhook_deliveries_total{event="other",result="bad_signature"} 1`},
		{"empty event", func(r *Registry) { r.ObserveDelivery("", DeliveryBadRequest) },
			`ensign_webhook_deliveries_total{event="other",result="bad_request"} 1`},
		{"known event", func(r *Registry) { r.ObserveDelivery("push", DeliveryReplay) },
			`ensign_webhook_deliveries_total{event="push",result="replay"} 1`},
		{"unknown command", func(r *Registry) { r.ObserveCommand("rm -rf /", CommandDone) },
			`ensign_commands_total{command="unknown",result="done"} 1`},
		{"known command", func(r *Registry) { r.ObserveCommand("promote-now", CommandFailed) },
			`ensign_commands_total{command="promote-now",result="failed"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Build{})
			before := seriesCount(t, r)
			tt.record(r)
			if !strings.Contains(scrape(t, r), tt.want) {
				t.Fatalf("/metrics lacks %q", tt.want)
			}
			if after := seriesCount(t, r); after != before {
				t.Fatalf("%d series before, %d after: the value added a series", before, after)
			}
		})
	}
}

func seriesCount(t *testing.T, r *Registry) int {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "ensign_webhook") || strings.HasPrefix(mf.GetName(), "ensign_commands") {
			n += len(mf.GetMetric())
		}
	}
	return n
}

// TestCommandNamesArePolicys: the command label knows exactly the
// commands the policy defines.
func TestCommandNamesArePolicys(t *testing.T) {
	want := slices.Sorted(slices.Values(policy.CommandNames()))
	got := slices.Sorted(slices.Values(commandNames))
	if !slices.Equal(got, want) {
		t.Fatalf("commandNames %v, policy.CommandNames %v", got, want)
	}
}

func TestSetWindowsReplacesARepositorysStages(t *testing.T) {
	r := New(Build{})
	r.SetWindows("acme/gitops", []Window{{App: "podinfo", Stage: "staging", Open: true}, {App: "podinfo", Stage: "production"}})
	r.SetWindows("acme/other", []Window{{App: "api", Stage: "production", Open: true}})
	r.SetWindows("acme/gitops", []Window{{App: "podinfo", Stage: "production", Open: true}})
	body := scrape(t, r)
	for want, present := range map[string]bool{
		`ensign_window_open{app="podinfo",repo="acme/gitops",stage="production"} 1`: true,
		`ensign_window_open{app="api",repo="acme/other",stage="production"} 1`:      true,
		`stage="staging"`: false,
	} {
		if strings.Contains(body, want) != present {
			t.Errorf("/metrics contains %q: %v, want %v", want, !present, present)
		}
	}
}

// TestScrapeDuringSetWindowsSeesEveryStage: the window gauges are set every
// 15 s; a scrape at that moment must not see a stage that stays go missing
// (an absent() alert would fire).
func TestScrapeDuringSetWindowsSeesEveryStage(t *testing.T) {
	r := New(Build{})
	ws := []Window{{App: "podinfo", Stage: "staging", Open: true}, {App: "podinfo", Stage: "production"}}
	r.SetWindows("acme/gitops", ws)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20000 {
			r.SetWindows("acme/gitops", ws)
		}
	}()
	for scrapes := 0; ; scrapes++ {
		select {
		case <-done:
			if scrapes == 0 {
				t.Fatal("no scrape ran while SetWindows did")
			}
			return
		default:
		}
		mfs, err := r.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if mf.GetName() == "ensign_window_open" {
				n = len(mf.GetMetric())
			}
		}
		if n != len(ws) {
			t.Fatalf("scrape %d saw %d ensign_window_open series while the stages were set again, want %d", scrapes, n, len(ws))
		}
	}
}

func TestNegativeLatencyCountsAsZero(t *testing.T) {
	r := New(Build{})
	r.ObserveRollbackLatency(RollbackPR, -time.Minute)
	if body := scrape(t, r); !strings.Contains(body, `ensign_rollback_latency_seconds_sum{mode="pr"} 0`) {
		t.Fatalf("a negative latency was not clamped:\n%s", body)
	}
}

// BenchmarkSetWindows is one 15-second refresh of the window gauges with
// 100 repositories of 50 apps with 2 stages each (10,000 series).
func BenchmarkSetWindows(b *testing.B) {
	r := New(Build{})
	repos, ws := windowFleet()
	for _, repo := range repos {
		r.SetWindows(repo, ws)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, repo := range repos {
			r.SetWindows(repo, ws)
		}
	}
}

// BenchmarkWindowsHeld measures the heap ensign_window_open holds between
// scrapes for 100 repositories of 50 apps with 2 stages (10,000 series):
// as ensign keeps them (the windows, made into series when scraped) and,
// side by side, as a GaugeVec would (a series each, kept), which is how
// ensign kept them before. B/held is the live heap after a GC.
func BenchmarkWindowsHeld(b *testing.B) {
	repos, ws := windowFleet()
	for _, c := range []struct {
		name string
		fill func() any
	}{
		{"windows", func() any {
			g := newWindowGauges()
			for _, repo := range repos {
				g.set(repo, ws)
			}
			return g
		}},
		{"GaugeVec", func() any {
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ensign_window_open", Help: "h"}, []string{"repo", "app", "stage"})
			for _, repo := range repos {
				for _, w := range ws {
					v.WithLabelValues(repo, w.App, w.Stage).Set(1)
				}
			}
			return v
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var held uint64
			for b.Loop() {
				before := liveHeap()
				kept := c.fill()
				held = liveHeap() - before
				runtime.KeepAlive(kept)
			}
			b.ReportMetric(float64(held), "B/held")
		})
	}
}

// liveHeap is the heap in use after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// windowFleet is 100 repositories and the 100 stages of each one's policy.
func windowFleet() (repos []string, ws []Window) {
	for a := range 50 {
		for _, st := range []string{"staging", "production"} {
			ws = append(ws, Window{App: fmt.Sprintf("app-%d", a), Stage: st, Open: a%2 == 0})
		}
	}
	for i := range 100 {
		repos = append(repos, fmt.Sprintf("acme/gitops-%d", i))
	}
	return repos, ws
}
