package promote

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

type rig struct {
	t     *testing.T
	env   *scenario.Env
	forge *forge.Client
	now   time.Time
}

// newRig sets up the sample repository; now is the services' clock.
func newRig(t *testing.T, now time.Time) *rig {
	t.Helper()
	env, err := scenario.Setup(context.Background(), harness.Gitea(t), harness.Kube(t), scenario.Options{Prefix: harness.UniqueName("pr") + "-"})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := env.Forge()
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, env: env, forge: fc, now: now}
}

// verify plays CI, Flux and Flagger: tag reaches staging and Succeeds.
func (r *rig) verify(tag string) *flaggerv1.Canary {
	r.t.Helper()
	ctx := context.Background()
	if _, err := r.env.ReleaseToStaging(ctx, tag); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.env.FluxApply(ctx, r.env.Staging); err != nil {
		r.t.Fatal(err)
	}
	if err := r.env.Analyse(ctx, r.env.Staging, true); err != nil {
		r.t.Fatal(err)
	}
	c, err := flaggerclient.NewForConfigOrDie(r.env.Kube.Config).FlaggerV1beta1().Canaries(r.env.Staging.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// service starts a fresh promotion service, as a new process would.
func (r *rig) service(f Forge) *Service {
	r.t.Helper()
	ws, err := r.env.Workspace(context.Background(), r.t.TempDir(), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { ws.Git.Close() })
	cs, err := r.env.Clusters()
	if err != nil {
		r.t.Fatal(err)
	}
	if f == nil {
		f = r.forge
	}
	s, err := New(Config{Workspace: ws, Forge: f, Clusters: cs, Bot: r.env.Bot.Name, Now: func() time.Time { return r.now }})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) promotions(state string) []forge.PullRequest {
	r.t.Helper()
	ctx := context.Background()
	var prs []forge.PullRequest
	var err error
	if state == "open" {
		prs, err = r.forge.ListOpenPullRequests(ctx, r.env.ForgeRepo(), "promotion")
	} else {
		prs, err = r.forge.ListClosedPullRequests(ctx, r.env.ForgeRepo(), "promotion", 50)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return prs
}

var (
	ams, _      = time.LoadLocation("Europe/Amsterdam")
	saturday    = time.Date(2026, 11, 28, 12, 0, 0, 0, ams)
	mondayNoon  = time.Date(2026, 11, 30, 12, 0, 0, 0, ams)
	killedAtPR  = "killed before labelling the pull request"
	killedAtPRp = &killedAtPR
)

// crashAtPR dies (panics, as a killed process stops) when first asked to
// label the pull request or to set its title and body (which labels a
// proposal just opened): after the push opened it, before ensign marked it
// as a promotion.
type crashAtPR struct {
	Forge
	hit atomic.Bool
}

func (c *crashAtPR) UpdatePullRequest(ctx context.Context, repo forge.Repo, number int64, title, body string, labels ...forge.Label) error {
	if !c.hit.Swap(true) {
		panic(killedAtPRp)
	}
	return c.Forge.UpdatePullRequest(ctx, repo, number, title, body, labels...)
}

func (c *crashAtPR) AddLabel(ctx context.Context, repo forge.Repo, number int64, want forge.Label) (bool, error) {
	if !c.hit.Swap(true) {
		panic(killedAtPRp)
	}
	return c.Forge.AddLabel(ctx, repo, number, want)
}

// TestRestartBetweenPushAndLabel kills ensign between the push that opened
// the promotion's pull request and its label, the mark by which ensign
// finds its promotions: the restart must adopt that pull request, with the
// same head, and open no second one.
func TestRestartBetweenPushAndLabel(t *testing.T) {
	r := newRig(t, saturday)
	c := r.verify("6.5.1")
	ctx := context.Background()
	func() {
		defer func() {
			if p := recover(); p != killedAtPRp {
				t.Fatalf("the first run did not die before labelling the PR: %v", p)
			}
		}()
		_, _ = r.service(&crashAtPR{Forge: r.forge}).Succeeded(ctx, "staging", c)
	}()
	if prs := r.promotions("open"); len(prs) != 0 {
		t.Fatalf("%d labelled promotion PRs before the restart", len(prs))
	}
	opened, err := r.forge.ListOpenPullRequests(ctx, r.env.ForgeRepo(), "")
	if err != nil || len(opened) != 1 || !opened[0].AGit {
		t.Fatalf("%d pull requests open after the crash (%v), want the one the push opened", len(opened), err)
	}
	outs, err := r.service(nil).Succeeded(ctx, "staging", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Action != ActionQueued || outs[0].PR == 0 {
		t.Fatalf("after the restart: %+v; want one queued PR", outs)
	}
	if outs[0].PR != opened[0].Number {
		t.Fatalf("the restart went on with #%d, want #%d, which the push opened", outs[0].PR, opened[0].Number)
	}
	head := opened[0].HeadSHA
	// Again: the same PR, the same commit.
	again, err := r.service(nil).Succeeded(ctx, "staging", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].PR != outs[0].PR {
		t.Fatalf("a repeat opened %+v; want the same PR #%d", again, outs[0].PR)
	}
	if pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR); err != nil || pr.HeadSHA != head {
		t.Fatalf("the repeat moved the promotion's head %s -> %s (%v)", head, pr.HeadSHA, err)
	}
	if prs := r.promotions("open"); len(prs) != 1 {
		t.Fatalf("%d open promotion PRs, want 1", len(prs))
	}
}

func TestNewerVersionSupersedesAndClosedIsNotReopened(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	first, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.2"))
	if err != nil {
		t.Fatal(err)
	}
	if second[0].PR == first[0].PR {
		t.Fatalf("6.5.2 reused PR #%d of 6.5.1", first[0].PR)
	}
	old, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), first[0].PR)
	if err != nil {
		t.Fatal(err)
	}
	if old.Open() || old.Merged {
		t.Fatalf("the superseded PR #%d is %s (merged %v), want closed", old.Number, old.State, old.Merged)
	}
	comments, err := r.forge.ListComments(ctx, r.env.ForgeRepo(), old.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !anyContains(comments, "superseded by #") {
		t.Fatalf("the superseded PR has no comment saying so: %+v", comments)
	}

	// A person closes the 6.5.2 promotion; a resync must not reopen it.
	if err := r.forge.ClosePullRequest(ctx, r.env.ForgeRepo(), second[0].PR, "not this week"); err != nil {
		t.Fatal(err)
	}
	c, err := flaggerclient.NewForConfigOrDie(r.env.Kube.Config).FlaggerV1beta1().Canaries(r.env.Staging.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	third, err := r.service(nil).Succeeded(ctx, "staging", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(third) != 1 || third[0].Action != ActionClosedByPerson || third[0].PR != second[0].PR {
		t.Fatalf("after a person closed #%d: %+v; want it left closed", second[0].PR, third)
	}
	if prs := r.promotions("open"); len(prs) != 0 {
		t.Fatalf("%d promotion PRs open after the person closed the last one", len(prs))
	}
}

func TestHoldKeepsAQueuedPromotionOut(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	outs, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	pr := outs[0].PR
	if _, err := r.forge.AddLabel(ctx, r.env.ForgeRepo(), pr, forge.Label{Name: "hold"}); err != nil {
		t.Fatal(err)
	}
	r.now = mondayNoon
	s := r.service(nil)
	if err := s.MergeQueued(ctx, mondayNoon); err != nil {
		t.Fatal(err)
	}
	got, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if got.Merged {
		t.Fatal("a held promotion was merged when the window opened")
	}
	out, err := s.PromotePR(ctx, PRRequest{PR: pr, Person: r.env.Dev.Name, Now: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionWaiting || !strings.Contains(out.Reason, "hold") {
		t.Fatalf("/promote now on a held PR: %+v; want waiting because the PR is on hold", out)
	}
	if _, err := r.forge.RemoveLabel(ctx, r.env.ForgeRepo(), pr, "hold"); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeQueued(ctx, mondayNoon); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr); !got.Merged {
		t.Fatal("released promotion not merged in an open window")
	}
}

func TestPromoteNowOverridesClosedWindow(t *testing.T) {
	r := newRig(t, saturday)
	ctx := context.Background()
	outs, err := r.service(nil).Succeeded(ctx, "staging", r.verify("6.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	s := r.service(nil)
	out, err := s.PromotePR(ctx, PRRequest{PR: outs[0].PR, Person: r.env.Dev.Name})
	if err != nil || out.Action != ActionQueued {
		t.Fatalf("/promote in a closed window: %+v, %v; want queued", out, err)
	}
	out, err = s.PromotePR(ctx, PRRequest{PR: outs[0].PR, Person: r.env.Dev.Name, Now: true})
	if err != nil || out.Action != ActionMerged {
		t.Fatalf("/promote now: %+v, %v; want merged", out, err)
	}
	pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), outs[0].PR)
	if err != nil || !pr.Merged {
		t.Fatalf("PR after /promote now: %+v, %v", pr, err)
	}
	head, err := r.env.File(ctx, r.env.Production.Overlay+"/kustomization.yaml")
	if err != nil || !strings.Contains(head, "6.5.1") {
		t.Fatalf("production overlay after /promote now: %q, %v", head, err)
	}
	api, err := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	if err != nil {
		t.Fatal(err)
	}
	merge, _, err := api.GetSingleCommit(r.env.Org, r.env.Repo, pr.MergeCommitSHA)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Ensign-Override: " + r.env.Dev.Name + " merged outside the promotion windows", "Ensign-Requested-By: " + r.env.Dev.Name} {
		if !strings.Contains(merge.RepoCommit.Message, want) {
			t.Fatalf("merge commit lacks %q:\n%s", want, merge.RepoCommit.Message)
		}
	}
}

func anyContains(cs []forge.Comment, s string) bool {
	for _, c := range cs {
		if strings.Contains(c.Body, s) {
			return true
		}
	}
	return false
}
