package rollback

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// pushCounter counts the pushes (receive-pack requests) a Git cache makes.
type pushCounter struct{ n atomic.Int32 }

func (p *pushCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-receive-pack") {
		p.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestBurstOfFailuresRevertedTogether fails the production canaries of many
// apps of one repository at once, as one bad base image does, on the real
// Gitea and API server: every failure is reverted exactly once, by its own
// commit with its own trailers, the reverts travel in a few pushes rather
// than one each, and a restarted service (an empty cache) finds every one
// of them again and writes nothing.
// burstRig is a fleet whose production canaries of n apps all failed on
// a hotfix each, more than 200 commits behind the tip.
type burstRig struct {
	f        *scenario.Fleet
	failing  []scenario.FleetApp
	canaries []*flaggerv1.Canary
	before   string // main's tip after the hotfixes and the other commits
	service  func(http.RoundTripper) *Service
	burst    func(*Service) []Outcome
}

func newBurstRig(ctx context.Context, t *testing.T, n int) *burstRig {
	t.Helper()
	k := harness.Kube(t)
	f, err := scenario.SetupFleet(ctx, harness.Gitea(t), k, scenario.FleetOptions{
		Prefix: harness.UniqueName("burst") + "-", Namespaces: 2, PerNamespace: 2 * n, Live: 2 * n,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, failing := f.LiveApps()
	if _, err := f.PrepareFailures(ctx, failing, "6.6.6"); err != nil {
		t.Fatal(err)
	}
	// Other teams keep committing: the hotfixes end up more than 200
	// commits (the default history bound) behind the tip.
	if err := f.Busy(ctx, 210); err != nil {
		t.Fatal(err)
	}
	before, err := f.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fc := flaggerclient.NewForConfigOrDie(k.Config)
	canaries := make([]*flaggerv1.Canary, len(failing))
	for i, a := range failing {
		if err := f.Fail(ctx, a); err != nil {
			t.Fatal(err)
		}
		if canaries[i], err = fc.FlaggerV1beta1().Canaries(a.Production.Namespace).Get(ctx, a.Name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var clients []*cluster.Client
	for _, name := range []string{"staging", "production"} {
		c, err := cluster.FromConfig(name, k.Config)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	fg, err := f.Forge()
	if err != nil {
		t.Fatal(err)
	}
	b := &burstRig{f: f, failing: failing, canaries: canaries, before: before}
	b.service = func(rt http.RoundTripper) *Service {
		ws, err := f.Workspace(ctx, t.TempDir(), &http.Client{Transport: rt})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Git.Close() })
		s, err := New(Config{Workspace: ws, Forge: fg, Clusters: cluster.NewSet(clients...), Bot: f.Bot.Name})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b.burst = func(s *Service) []Outcome {
		outs := make([]Outcome, len(canaries))
		var wg sync.WaitGroup
		for i, c := range canaries {
			wg.Go(func() {
				out, err := s.Failed(ctx, "production", c)
				if err != nil {
					t.Errorf("%s: %v", c.Namespace+"/"+c.Name, err)
				}
				outs[i] = out
			})
		}
		wg.Wait()
		return outs
	}
	return b
}

func TestBurstOfFailuresRevertedTogether(t *testing.T) {
	const n = 24
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := newBurstRig(ctx, t, n)
	f, failing, service, burst := b.f, b.failing, b.service, b.burst
	before := b.before

	var pushes pushCounter
	outs := burst(service(&pushes))
	commits := map[string]bool{}
	for i, out := range outs {
		if out.Action != ActionReverted || out.App != failing[i].Name || commits[out.Commit] {
			t.Fatalf("%s: %+v; want its own revert", failing[i].Name, out)
		}
		commits[out.Commit] = true
	}
	if got := pushes.n.Load(); got < 1 || got > n/3 {
		t.Fatalf("%d failures took %d pushes; want them batched (at most %d)", n, got, n/3)
	}
	t.Logf("%d failures, %d pushes", n, pushes.n.Load())

	// What the real git sees: exactly one revert per failure, each the
	// revert of that app's hotfix, with the failure's trailers.
	clone := t.TempDir()
	gitCLI(t, "", "clone", "-q", f.Gitea.URL+f.Org+"/"+f.Repo+".git", clone)
	log := strings.TrimSpace(gitCLI(t, clone, "log", "--first-parent", "--format=%H%x00%(trailers:key=Ensign-Rollback,valueonly)%x00%(trailers:key=Ensign-Failure,valueonly)%x00%(trailers:key=Ensign-Reverts,valueonly)%x01", before+"..main"))
	seen := map[string]bool{}
	entries := strings.Split(strings.Trim(log, "\x01\n"), "\x01")
	if len(entries) != n {
		t.Fatalf("%d commits on main after the burst, want %d reverts:\n%s", len(entries), n, log)
	}
	byApp := map[string]int{}
	for i, a := range failing {
		byApp[a.Name+"/production"] = i
	}
	for _, e := range entries {
		fields := strings.Split(strings.TrimSpace(e), "\x00")
		sha, rollback, failure, reverts := fields[0], strings.TrimSpace(fields[1]), strings.TrimSpace(fields[2]), strings.TrimSpace(fields[3])
		i, ok := byApp[rollback]
		if !ok || seen[rollback] || !commits[sha] {
			t.Fatalf("commit %s: rollback %q seen before %v, ours %v", sha, rollback, seen[rollback], commits[sha])
		}
		seen[rollback] = true
		a := failing[i]
		if want := "production/" + a.Production.Namespace + "/" + a.Name + "@"; !strings.HasPrefix(failure, want) {
			t.Fatalf("commit %s: Ensign-Failure %q, want %s...", sha, failure, want)
		}
		if subject := strings.TrimSpace(gitCLI(t, clone, "log", "-1", "--format=%s", reverts)); subject != "Hotfix "+a.Name+" 6.6.6 straight to production" {
			t.Fatalf("commit %s reverts %s (%q), not %s's hotfix", sha, reverts, subject, a.Name)
		}
		if overlay := gitCLI(t, clone, "show", "HEAD:"+a.Production.Overlay+"/kustomization.yaml"); !strings.Contains(overlay, "newTag: 1.0.0") {
			t.Fatalf("%s pins after the burst:\n%s", a.Name, overlay)
		}
	}
	for _, a := range failing {
		if _, ok, err := f.EnsignEventAt(ctx, a, a.Production, "Rollback"); err != nil || !ok {
			t.Fatalf("no Rollback event on %s: %v", a.Name, err)
		}
	}

	// A restart: a new service with an empty cache resumes every failure
	// and writes nothing.
	after, err := f.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var again pushCounter
	for i, out := range burst(service(&again)) {
		if out.Action != ActionReverted || out.Commit != outs[i].Commit {
			t.Fatalf("after the restart %s: %+v; want its revert %s found again", failing[i].Name, out, outs[i].Commit)
		}
	}
	if tip, err := f.Tip(ctx); err != nil || tip != after || again.n.Load() != 0 {
		t.Fatalf("the restart moved main from %s to %s (%v) with %d pushes", after, tip, err, again.n.Load())
	}
}

// flaky answers every Git request with 503, as a Gitea that is restarting
// behind its proxy does, until up is set.
type flaky struct {
	up      atomic.Bool
	refused atomic.Int32
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	if !f.up.Load() {
		f.refused.Add(1)
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestBurstWaitsOutAGitOutage fails canaries while the Git server answers
// 503: the batch holds on and lands every revert once the server is back,
// instead of handing each failure back to the watcher's retry backoff.
func TestBurstWaitsOutAGitOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := newBurstRig(ctx, t, 6)
	var git flaky
	git.up.Store(true)
	s := b.service(&git) // opened (cloned) while the server is up
	git.up.Store(false)
	go func() {
		for git.refused.Load() < 3 { // the batch has tried and waited more than once
			time.Sleep(50 * time.Millisecond)
		}
		git.up.Store(true)
	}()
	for i, out := range b.burst(s) {
		if out.Action != ActionReverted {
			t.Fatalf("%s: %+v; want reverted once the server is back", b.failing[i].Name, out)
		}
	}
	clone := t.TempDir()
	gitCLI(t, "", "clone", "-q", b.f.Gitea.URL+b.f.Org+"/"+b.f.Repo+".git", clone)
	if got := strings.TrimSpace(gitCLI(t, clone, "rev-list", "--count", b.before+"..main")); got != "6" {
		t.Fatalf("%s commits on main after the outage, want the 6 reverts", got)
	}
}
