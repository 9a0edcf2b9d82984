package gate

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

var (
	ams, _     = time.LoadLocation("Europe/Amsterdam")
	saturday   = time.Date(2026, 11, 28, 12, 0, 0, 0, ams) // business hours closed
	mondayNoon = time.Date(2026, 11, 30, 12, 0, 0, 0, ams) // open
)

type rig struct {
	t     *testing.T
	env   *scenario.Env
	forge *forge.Client
	gate  *Service
	now   time.Time
	// diffs counts the gate's requests for a pull request's files.
	diffs *countingForge
}

// countingForge is the real Gitea client, counting the requests for a
// pull request's files (each one makes Gitea compute a diff).
type countingForge struct {
	*forge.Client
	files atomic.Int64
}

func (c *countingForge) PullRequestFiles(ctx context.Context, repo forge.Repo, number int64) ([]string, error) {
	c.files.Add(1)
	return c.Client.PullRequestFiles(ctx, repo, number)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	env, err := scenario.Setup(ctx, harness.Gitea(t), harness.Kube(t), scenario.Options{Prefix: harness.UniqueName("gt") + "-"})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := env.Forge()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := env.Workspace(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Git.Close() })
	cs, err := env.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, env: env, forge: fc, now: saturday, diffs: &countingForge{Client: fc}}
	if r.gate, err = New(Config{Workspace: ws, Forge: r.diffs, Clusters: cs, Now: func() time.Time { return r.now }}); err != nil {
		t.Fatal(err)
	}
	return r
}

// personsPR opens the developer's pull request that changes files.
func (r *rig) personsPR(branch string, files map[string]string) int64 {
	r.t.Helper()
	ctx := context.Background()
	if _, err := r.env.CommitOnBranch(ctx, r.env.Dev, branch, "a change by hand", files); err != nil {
		r.t.Fatal(err)
	}
	c, err := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	if err != nil {
		r.t.Fatal(err)
	}
	pr, _, err := c.CreatePullRequest(r.env.Org, r.env.Repo, gitea.CreatePullRequestOption{Head: branch, Base: "main", Title: branch})
	if err != nil {
		r.t.Fatal(err)
	}
	return pr.Index
}

// status is the ensign/window status Gitea shows on the pull request's head.
func (r *rig) status(number int64) (gitea.StatusState, string) {
	r.t.Helper()
	ctx := context.Background()
	pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), number)
	if err != nil {
		r.t.Fatal(err)
	}
	c, _ := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	sts, _, err := c.ListStatuses(r.env.Org, r.env.Repo, pr.HeadSHA, gitea.ListStatusesOption{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range sts { // newest first
		if s.Context == vocab.WindowContext {
			return s.State, s.Description
		}
	}
	return "", ""
}

func (r *rig) refresh(number int64) Verdict {
	r.t.Helper()
	v, err := r.gate.Refresh(context.Background(), number)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func (r *rig) overlayChange(tag string) map[string]string {
	r.t.Helper()
	path := r.env.Production.Overlay + "/kustomization.yaml"
	cur, err := r.env.File(context.Background(), path)
	if err != nil {
		r.t.Fatal(err)
	}
	return map[string]string{path: strings.ReplaceAll(cur, "6.5.0", tag)}
}

// With ensign/window a required check of main, Gitea itself refuses a
// person's merge into production while the window is closed, and lets it
// through once the window opens.
func TestRequiredCheckHoldsAPersonsMerge(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	bot, err := r.env.Gitea.Client(ctx, r.env.Bot.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.CreateBranchProtection(r.env.Org, r.env.Repo, gitea.CreateBranchProtectionOption{
		RuleName: "main", EnableStatusCheck: true, StatusCheckContexts: []string{vocab.WindowContext},
	}); err != nil {
		t.Fatalf("require %s on main: %v", vocab.WindowContext, err)
	}
	pr := r.personsPR("hotfix-6.5.9", r.overlayChange("6.5.9"))
	other := r.personsPR("docs", map[string]string{"README.md": "docs\n"})

	if v := r.refresh(pr); v.State != forge.StatePending || !strings.Contains(v.Description, "podinfo/production closed until") {
		t.Fatalf("verdict on a Saturday: %+v", v)
	}
	if st, desc := r.status(pr); st != gitea.StatusPending || !strings.Contains(desc, "closed until") {
		t.Fatalf("Gitea shows %q %q on the pull request", st, desc)
	}
	if v := r.refresh(other); v.State != forge.StateSuccess {
		t.Fatalf("a change to no gated stage: %+v, want success", v)
	}
	dev, _ := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	merge := func(n int64) error {
		ok, _, err := dev.MergePullRequest(r.env.Org, r.env.Repo, n, gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge})
		if err == nil && !ok {
			err = errors.New("not merged")
		}
		return err
	}
	if err := merge(pr); err == nil {
		t.Fatal("Gitea merged a change to production while its window was closed")
	}
	r.now = mondayNoon
	if v := r.refresh(pr); v.State != forge.StateSuccess {
		t.Fatalf("verdict on Monday noon: %+v", v)
	}
	if err := scenario.Wait(ctx, 30*time.Second, "the merge", func() (bool, error) { return merge(pr) == nil, nil }); err != nil {
		t.Fatalf("the person could not merge once the window opened: %v", merge(pr))
	}
}

// A sweep after a push to main does not ask Gitea for the files of pull
// requests it has seen: what a pull request changes depends on its head
// and merge base, and neither moved. A push to the pull request is read
// again and can change the verdict.
func TestSweepReadsEachDiffOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pr := r.personsPR("docs-first", map[string]string{"README.md": "docs\n"})
	sweep := func() {
		t.Helper()
		if err := r.gate.RefreshAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sweep()
	if st, _ := r.status(pr); st != gitea.StatusSuccess {
		t.Fatalf("a change to no gated stage: %q, want success", st)
	}
	if _, err := r.env.PushVersion(ctx, r.env.Staging, "6.5.1"); err != nil { // main moves on
		t.Fatal(err)
	}
	sweep()
	sweep()
	if n := r.diffs.files.Load(); n != 1 {
		t.Fatalf("three sweeps, one of them after a push to main, asked for the files %d times, want 1", n)
	}
	old, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.env.CommitTo(ctx, r.env.Dev, "docs-first", "and production", r.overlayChange("6.5.9")); err != nil {
		t.Fatal(err)
	}
	if err := scenario.Wait(ctx, 30*time.Second, "Gitea to see the new head", func() (bool, error) {
		cur, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), pr)
		return cur.HeadSHA != old.HeadSHA, err
	}); err != nil {
		t.Fatal(err)
	}
	sweep()
	if n := r.diffs.files.Load(); n != 2 {
		t.Fatalf("after a push to the pull request the files were asked for %d times in all, want 2", n)
	}
	if st, desc := r.status(pr); st != gitea.StatusPending || !strings.Contains(desc, "podinfo/production closed until") {
		t.Fatalf("the pull request now changes production on a Saturday: %q %q, want pending", st, desc)
	}
}

// /promote now lets the current head through; a new push needs it again.
func TestOverrideIsForOneHead(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pr := r.personsPR("urgent", r.overlayChange("6.5.8"))
	if v, err := r.gate.Override(ctx, pr, "ada"); err != nil || v.State != forge.StateSuccess || !strings.Contains(v.Description, "@ada") {
		t.Fatalf("override: %+v, %v", v, err)
	}
	if _, err := r.env.CommitTo(ctx, r.env.Dev, "urgent", "one more change", map[string]string{"notes.md": "x\n"}); err != nil {
		t.Fatal(err)
	}
	if err := scenario.Wait(ctx, 30*time.Second, "a pending status on the new head", func() (bool, error) {
		v, err := r.gate.Refresh(ctx, pr)
		return v.State == forge.StatePending, err
	}); err != nil {
		t.Fatal(err)
	}
	docs := r.personsPR("docs-only", map[string]string{"README.md": "x\n"})
	if _, err := r.gate.Override(ctx, docs, "ada"); !errors.Is(err, ErrNotGated) {
		t.Fatalf("override of an ungated change: %v, want ErrNotGated", err)
	}
}

// A suspended Flux Kustomization gates its stage, whatever the windows say.
func TestFluxSuspendHoldsTheGate(t *testing.T) {
	r := newRig(t)
	r.now = mondayNoon
	ctx := context.Background()
	pr := r.personsPR("next", r.overlayChange("6.5.7"))
	if v := r.refresh(pr); v.State != forge.StateSuccess {
		t.Fatalf("open window: %+v", v)
	}
	suspend := func(on bool) {
		t.Helper()
		dyn := dynamic.NewForConfigOrDie(r.env.Kube.Config)
		patch := []byte(`{"spec":{"suspend":` + map[bool]string{true: "true", false: "false"}[on] + `}}`)
		if _, err := dyn.Resource(flux.KustomizationGVR).Namespace(r.env.FluxNamespace).Patch(ctx, "podinfo-production", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	suspend(true)
	if v := r.refresh(pr); v.State != forge.StatePending || !strings.Contains(v.Description, "Flux suspended for podinfo/production") {
		t.Fatalf("suspended: %+v", v)
	}
	suspend(false)
	if v := r.refresh(pr); v.State != forge.StateSuccess {
		t.Fatalf("resumed: %+v", v)
	}
}

// Flagger's gate: a new version waits for the window; bringing back what
// the primary runs (a revert) always goes; a canary no policy names is not
// found.
func TestFlaggerGate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	prod := policy.CanaryRef{Cluster: r.env.Production.Cluster, Namespace: r.env.Production.Namespace, Name: "podinfo"}
	allow := func() (bool, string) {
		t.Helper()
		ok, why, err := r.gate.Allow(ctx, prod)
		if err != nil {
			t.Fatal(err)
		}
		return ok, why
	}
	if ok, why := allow(); !ok || !strings.Contains(why, "rollback") {
		t.Fatalf("target runs what the primary runs: %v %q, want allowed as a rollback", ok, why)
	}
	if _, err := r.env.PushVersion(ctx, r.env.Production, "6.5.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.env.FluxApply(ctx, r.env.Production); err != nil { // the target runs 6.5.1, the primary 6.5.0
		t.Fatal(err)
	}
	if ok, why := allow(); ok || !strings.Contains(why, "closed") {
		t.Fatalf("a new version on a Saturday: %v %q, want held", ok, why)
	}
	r.now = mondayNoon
	if ok, why := allow(); !ok {
		t.Fatalf("a new version on Monday noon: held (%q)", why)
	}
	if _, _, err := r.gate.Allow(ctx, policy.CanaryRef{Cluster: "production", Namespace: "nowhere", Name: "x"}); !errors.Is(err, ErrUnknownCanary) {
		t.Fatalf("unknown canary: %v, want ErrUnknownCanary", err)
	}
}
