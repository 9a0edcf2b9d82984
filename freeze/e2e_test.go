package freeze

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/vocab"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// mondayNoon is inside the scenario's business-hours window.
var mondayNoon = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

type rig struct {
	t      *testing.T
	env    *scenario.Env
	forge  *forge.Client
	freeze *Service
	gate   *gate.Service
	now    time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	env, err := scenario.Setup(ctx, harness.Gitea(t), harness.Kube(t), scenario.Options{Prefix: harness.UniqueName("fz") + "-"})
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
	r := &rig{t: t, env: env, forge: fc, now: mondayNoon}
	now := func() time.Time { return r.now }
	r.freeze = New(ws, fc, slog.New(slog.DiscardHandler), now)
	if r.gate, err = gate.New(gate.Config{Workspace: ws, Forge: fc, Clusters: cs, Now: now}); err != nil {
		t.Fatal(err)
	}
	return r
}

// freezes reads the policy on main as Gitea has it.
func (r *rig) freezes() []policy.Freeze {
	r.t.Helper()
	data, err := r.env.File(context.Background(), ".ensign.yaml")
	if err != nil {
		r.t.Fatal(err)
	}
	p, err := policy.Load(".ensign.yaml", []byte(data))
	if err != nil {
		r.t.Fatalf("the policy on main does not load: %v", err)
	}
	return p.Freezes
}

func (r *rig) tip() string {
	r.t.Helper()
	tip, err := r.env.Tip(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return tip
}

// A freeze goes into the policy on main as ensign, fails the window gate
// of a person's change to the stage with who, until when and why, can be
// extended and lifted, and ended freezes leave the file.
func TestFreezeLifecycle(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	path := r.env.Production.Overlay + "/kustomization.yaml"
	cur, err := r.env.File(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.env.CommitOnBranch(ctx, r.env.Dev, "hotfix", "a hotfix by hand", map[string]string{path: strings.ReplaceAll(cur, "6.5.0", "6.5.9")}); err != nil {
		t.Fatal(err)
	}
	person, _ := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	pr, _, err := person.CreatePullRequest(r.env.Org, r.env.Repo, gitea.CreatePullRequestOption{Head: "hotfix", Base: "main", Title: "hotfix"})
	if err != nil {
		t.Fatal(err)
	}
	verdict := func() gate.Verdict {
		t.Helper()
		v, err := r.gate.Refresh(ctx, pr.Index)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verdict(); v.State != forge.StateSuccess {
		t.Fatalf("before the freeze: %+v", v)
	}

	out, err := r.freeze.Freeze(ctx, Request{Stage: "production", Apps: []string{"podinfo"}, For: 4 * time.Hour, Reason: "incident 42", By: "alice"})
	if err != nil || out.Action != ActionFrozen || out.Commit == "" {
		t.Fatalf("freeze: %+v, %v", out, err)
	}
	fs := r.freezes()
	if len(fs) != 1 || fs[0].By != "alice" || fs[0].Reason != "incident 42" || !fs[0].Until.Equal(mondayNoon.Add(4*time.Hour)) {
		t.Fatalf("freezes on main: %+v", fs)
	}
	head, err := r.env.HeadCommit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.SHA != out.Commit || !strings.Contains(head.RepoCommit.Message, vocab.TrailerFreeze+": freeze") ||
		!strings.Contains(head.RepoCommit.Message, vocab.TrailerRequestedBy+": alice") || head.RepoCommit.Author.Name != "ensign" {
		t.Fatalf("main's head %s by %s:\n%s", head.SHA, head.RepoCommit.Author.Name, head.RepoCommit.Message)
	}
	dev, _ := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	full, _, err := dev.GetSingleCommit(r.env.Org, r.env.Repo, out.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Files) != 1 || full.Files[0].Filename != ".ensign.yaml" {
		t.Fatalf("the freeze commit changed %+v, want only the policy file", full.Files)
	}
	v := verdict()
	if v.State != forge.StateFailure || !strings.Contains(v.Description, "emergency freeze by alice until 2026-11-30 15:00 UTC (incident 42)") {
		t.Fatalf("during the freeze: %+v", v)
	}

	// A second freeze of the same selection replaces the first.
	if out, err := r.freeze.Freeze(ctx, Request{Stage: "production", Apps: []string{"podinfo"}, For: 30 * time.Minute, Reason: "shorter", By: "bob"}); err != nil || out.Action != ActionExtended {
		t.Fatalf("second freeze: %+v, %v", out, err)
	}
	if fs := r.freezes(); len(fs) != 1 || fs[0].Reason != "shorter" {
		t.Fatalf("after the second freeze: %+v", fs)
	}
	if out, err := r.freeze.Unfreeze(ctx, Request{Stage: "production", Apps: []string{"podinfo"}, By: "alice"}); err != nil || out.Action != ActionUnfrozen || len(out.Removed) != 1 {
		t.Fatalf("unfreeze: %+v, %v", out, err)
	}
	if fs := r.freezes(); len(fs) != 0 {
		t.Fatalf("after the unfreeze: %+v", fs)
	}
	if v := verdict(); v.State != forge.StateSuccess {
		t.Fatalf("after the unfreeze: %+v", v)
	}

	// A freeze of every app is lifted only as a whole.
	if _, err := r.freeze.Freeze(ctx, Request{Stage: "production", All: true, For: time.Hour, Reason: "year end", By: "carol"}); err != nil {
		t.Fatal(err)
	}
	out, err = r.freeze.Unfreeze(ctx, Request{Stage: "production", Apps: []string{"podinfo"}})
	if err != nil || out.Action != ActionNotFrozen || len(out.StillFrozen) != 1 || !strings.Contains(out.Reason, "--all") {
		t.Fatalf("unfreeze of one app under a freeze of all: %+v, %v", out, err)
	}
	// It ends: Expire takes it out of the file.
	r.now = r.now.Add(2 * time.Hour)
	if v := verdict(); v.State != forge.StateSuccess {
		t.Fatalf("after the freeze ended: %+v", v)
	}
	if out, err := r.freeze.Expire(ctx); err != nil || out.Action != ActionExpired || len(out.Removed) != 1 {
		t.Fatalf("expire: %+v, %v", out, err)
	}
	if fs := r.freezes(); len(fs) != 0 {
		t.Fatalf("after expiry: %+v", fs)
	}
	if out, err := r.freeze.Expire(ctx); err != nil || out.Action != ActionNotFrozen {
		t.Fatalf("second expire: %+v, %v", out, err)
	}
}

// Requests that cannot be right are refused with a specific error, and
// nothing is pushed.
func TestFreezeRefusesBadRequests(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	before := r.tip()
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"too long", Request{Stage: "production", All: true, For: 745 * time.Hour, Reason: "r"}, "at most 31 days"},
		{"no reason", Request{Stage: "production", All: true, For: time.Hour, Reason: "  "}, "needs a reason"},
		{"no length", Request{Stage: "production", All: true, Reason: "r"}, "how long"},
		{"unknown stage", Request{Stage: "prod", All: true, For: time.Hour, Reason: "r"}, `no app has a stage "prod"`},
		{"unknown app", Request{Stage: "production", Apps: []string{"web"}, For: time.Hour, Reason: "r"}, `no app "web"`},
		{"apps and all", Request{Stage: "production", Apps: []string{"podinfo"}, All: true, For: time.Hour, Reason: "r"}, "not both"},
		{"two lines", Request{Stage: "production", All: true, For: time.Hour, Reason: "a\nb"}, "one line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.freeze.Freeze(ctx, c.req)
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrBadRequest saying %q", err, c.want)
			}
		})
	}
	if out, err := r.freeze.Unfreeze(ctx, Request{Stage: "production", All: true}); err != nil || out.Action != ActionNotFrozen {
		t.Fatalf("unfreeze with nothing frozen: %+v, %v", out, err)
	}
	if r.tip() != before {
		t.Fatal("a refused request pushed to main")
	}
}

// Where main refuses ensign's push, the freeze waits in a pull request.
func TestFreezeOnAProtectedBranchOpensAPullRequest(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	admin, err := r.env.Gitea.Client(ctx, r.env.Bot.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.CreateBranchProtection(r.env.Org, r.env.Repo, gitea.CreateBranchProtectionOption{RuleName: "main", EnablePush: false}); err != nil {
		t.Fatal(err)
	}
	before := r.tip()
	out, err := r.freeze.Freeze(ctx, Request{Stage: "production", All: true, For: time.Hour, Reason: "incident", By: "alice"})
	if err != nil || out.Action != ActionProposed || out.PR == 0 {
		t.Fatalf("freeze on a protected main: %+v, %v", out, err)
	}
	if r.tip() != before {
		t.Fatal("main moved")
	}
	pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), out.PR)
	if err != nil || pr.HeadBranch != "ensign/freeze/production" || !strings.HasPrefix(pr.Title, "Freeze production of every app") {
		t.Fatalf("pull request %+v, %v", pr, err)
	}
}
