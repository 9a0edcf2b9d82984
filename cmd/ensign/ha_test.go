package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// haRig is two or more `ensign run` processes with leader election on, on
// one fleet of canaries.
type haRig struct {
	t     *testing.T
	fleet *scenario.Fleet
	bin   string
	env   map[string]string
	kube  kubernetes.Interface
	ns    string
}

func newHARig(t *testing.T) *haRig {
	t.Helper()
	ctx := context.Background()
	g, k := harness.Gitea(t), harness.Kube(t)
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{Prefix: harness.UniqueName("ha") + "-", Namespaces: 4, PerNamespace: 5, Live: 10})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := ensignproc.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &haRig{t: t, fleet: f, bin: bin, kube: kubernetes.NewForConfigOrDie(k.Config), ns: harness.UniqueName("ensign-")}
	if _, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.env = map[string]string{
		"ENSIGN_GITEA_URL":                      strings.TrimSuffix(g.URL, "/"),
		"ENSIGN_GITEA_TOKEN":                    f.Bot.Token,
		"ENSIGN_WEBHOOK_SECRET":                 "ha-webhook-secret-0123456789",
		"ENSIGN_REPOS":                          f.Org + "/" + f.Repo,
		"ENSIGN_KUBECONFIGS":                    f.Kubeconfigs(),
		"ENSIGN_LEADER_ELECTION":                "true",
		"ENSIGN_LEADER_ELECTION_NAMESPACE":      r.ns,
		"ENSIGN_LEADER_ELECTION_LEASE_DURATION": "6s",
		"ENSIGN_LEADER_ELECTION_RENEW_DEADLINE": "4s",
		"ENSIGN_LEADER_ELECTION_RETRY_PERIOD":   "1s",
		"KUBECONFIG":                            k.Kubeconfig,
	}
	return r
}

// start runs replica name and waits until it is ready (leading and synced,
// or standing by with a leader to pass deliveries on to).
func (r *haRig) start(name string) *ensignproc.Proc {
	r.t.Helper()
	addr, err := ensignproc.FreeAddr()
	if err != nil {
		r.t.Fatal(err)
	}
	env := map[string]string{"ENSIGN_LISTEN_ADDR": addr, "POD_NAME": name, "ENSIGN_DATA_DIR": filepath.Join(r.t.TempDir(), "data")}
	for k, v := range r.env {
		env[k] = v
	}
	p, err := ensignproc.Start(r.bin, filepath.Join(r.t.TempDir(), name+".log"), env)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { p.Kill() })
	if err := p.WaitReady(context.Background(), 90*time.Second); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// leading reports whether p says it leads (ensign_leader on /metrics).
func leading(p *ensignproc.Proc) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Addr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), "\nensign_leader 1\n")
}

// waitLeader waits until p leads and returns how long that took.
func (r *haRig) waitLeader(p *ensignproc.Proc, within time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	if err := scenario.Wait(context.Background(), within, "a new leader", func() (bool, error) {
		return leading(p), p.Exited()
	}); err != nil {
		r.t.Fatalf("%v\n%s", err, p.LogTail(20))
	}
	return time.Since(start)
}

// Two replicas: one acts. The leader is killed in the middle of a burst of
// failed and succeeded canaries; the other takes over within the lease
// duration and a few seconds, and every failure is reverted exactly once and
// every verified version promoted exactly once. Then a SIGTERM hands over.
func TestLeaderFailoverLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two ensign processes through a fail-over")
	}
	r := newHARig(t)
	ctx := context.Background()
	a := r.start("replica-a")
	r.waitLeader(a, 30*time.Second)
	b := r.start("replica-b")
	if leading(b) {
		t.Fatal("two replicas lead")
	}
	// A delivery that reaches the standby is passed on to the leader.
	resp, err := http.Post("http://"+b.Addr+"/webhooks/gitea", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unsigned delivery to the standby got %d; want the leader's refusal passed back", resp.StatusCode)
	}

	if err := r.fleet.PrepareFinals(ctx, "2.0.0"); err != nil {
		t.Fatal(err)
	}
	finals := make(chan error, 1)
	go func() { finals <- r.fleet.Finals(ctx) }()
	time.Sleep(700 * time.Millisecond) // the leader is busy with the burst
	killed := time.Now()
	a.Kill()
	if err := <-finals; err != nil {
		t.Fatal(err)
	}
	took := r.waitLeader(b, 30*time.Second)
	t.Logf("after SIGKILL of the leader, the standby led %v later (lease 6s)", time.Since(killed).Round(time.Millisecond))
	if took > 6*time.Second+5*time.Second {
		t.Fatalf("take-over took %v, want within the lease duration and a few seconds", took)
	}
	r.exactlyOnce()

	// A SIGTERM hands over at once: the Lease is released, not left to expire.
	c := r.start("replica-c")
	stopped := time.Now()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	took = r.waitLeader(c, 30*time.Second)
	t.Logf("after SIGTERM of the leader, the standby led %v later", time.Since(stopped).Round(time.Millisecond))
	if took > 3*time.Second {
		t.Fatalf("a SIGTERM hand-over took %v; want well under the lease duration", took)
	}
}

// exactlyOnce waits until every failing app has its revert on main and every
// promoting app its promotion pull request, then checks there is exactly one
// of each.
func (r *haRig) exactlyOnce() {
	r.t.Helper()
	ctx := context.Background()
	promoting, failing := r.fleet.LiveApps()
	fc, err := r.fleet.Forge()
	if err != nil {
		r.t.Fatal(err)
	}
	var reverts map[string]int
	var prs map[string]int
	err = scenario.Wait(ctx, 2*time.Minute, "every revert and promotion", func() (bool, error) {
		reverts, err = r.revertsOnMain(ctx)
		if err != nil {
			return false, err
		}
		prs, err = promotionPRs(ctx, fc, r.fleet.ForgeRepo())
		if err != nil {
			return false, err
		}
		for _, a := range failing {
			if reverts[a.Name] == 0 {
				return false, nil
			}
		}
		for _, a := range promoting {
			if prs[a.Name] == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		r.t.Fatalf("%v: reverts %v, promotion PRs %v", err, reverts, prs)
	}
	for _, a := range failing {
		if reverts[a.Name] != 1 {
			r.t.Errorf("%s reverted %d times, want once", a.Name, reverts[a.Name])
		}
	}
	for _, a := range promoting {
		if prs[a.Name] != 1 {
			r.t.Errorf("%s has %d promotion pull requests, want one", a.Name, prs[a.Name])
		}
	}
}

// revertsOnMain counts ensign's reverts of canary failures on main, by app.
func (r *haRig) revertsOnMain(ctx context.Context) (map[string]int, error) {
	g, err := gitops.Open(ctx, gitops.Options{Dir: r.t.TempDir(), URL: r.fleet.Gitea.URL + r.fleet.Org + "/" + r.fleet.Repo + ".git", Token: r.fleet.Bot.Token})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if _, err := g.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}}); err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = g.Log(ctx, "main", gitops.LogOptions{}, func(c *gitops.CommitInfo) error {
		if len(gitops.TrailerValues(c.Message, vocab.TrailerFailure)) > 0 {
			for _, v := range gitops.TrailerValues(c.Message, vocab.TrailerRollback) {
				app, _, _ := strings.Cut(v, "/")
				out[app]++
			}
		}
		return nil
	})
	return out, err
}

// promotionPRs counts ensign's promotion pull requests, open or closed, by app.
func promotionPRs(ctx context.Context, fc *forge.Client, repo forge.Repo) (map[string]int, error) {
	open, err := fc.ListOpenPullRequests(ctx, repo, "promotion")
	if err != nil {
		return nil, err
	}
	closed, err := fc.ListClosedPullRequests(ctx, repo, "promotion", 1000)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, pr := range append(open, closed...) {
		if m, err := vocab.ParsePromotion(pr.Body); err == nil {
			out[m.App]++
		}
	}
	return out, nil
}
