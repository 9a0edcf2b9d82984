package rollback

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// rig is the sample GitOps setup with production at 6.5.1 through a
// person's merged pull request, applied by Flux, and its canary Failed.
type rig struct {
	t      *testing.T
	env    *scenario.Env
	forge  *forge.Client
	change scenario.MergedChange
}

func newRig(t *testing.T, opts scenario.Options) *rig {
	t.Helper()
	ctx := context.Background()
	opts.Prefix = harness.UniqueName("rb") + "-"
	env, err := scenario.Setup(ctx, harness.Gitea(t), harness.Kube(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := env.Forge()
	if err != nil {
		t.Fatal(err)
	}
	change, err := env.PromoteByHand(ctx, env.Production, "6.5.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.FluxApply(ctx, env.Production); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, env: env, forge: fc, change: change}
}

// fail plays Flagger failing the production analysis and returns the canary.
func (r *rig) fail() *flaggerv1.Canary {
	r.t.Helper()
	ctx := context.Background()
	if err := r.env.Analyse(ctx, r.env.Production, false); err != nil {
		r.t.Fatal(err)
	}
	fc := flaggerclient.NewForConfigOrDie(r.env.Kube.Config)
	c, err := fc.FlaggerV1beta1().Canaries(r.env.Production.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// service starts a fresh rollback service (an empty Git cache, as a new
// process has) talking to Gitea through f, and to Git through client.
func (r *rig) service(f Forge, client *http.Client) *Service {
	r.t.Helper()
	return r.serviceAt(f, client, nil)
}

// serviceAt is service with the clock now (nil: time.Now).
func (r *rig) serviceAt(f Forge, client *http.Client, now func() time.Time) *Service {
	r.t.Helper()
	ws, err := r.env.Workspace(context.Background(), r.t.TempDir(), client)
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
	s, err := New(Config{Workspace: ws, Forge: f, Clusters: cs, Bot: r.env.Bot.Name, Now: now})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) tip() string {
	r.t.Helper()
	tip, err := r.env.Tip(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return tip
}

func (r *rig) rollbackComments() []forge.Comment {
	r.t.Helper()
	cs, err := r.forge.ListComments(context.Background(), r.env.ForgeRepo(), r.change.PR)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []forge.Comment
	for _, c := range cs {
		if strings.Contains(c.Body, "ensign:rollback:"+r.change.MergeSHA) || strings.Contains(c.Body, "Canary `") {
			out = append(out, c)
		}
	}
	return out
}

func (r *rig) pinned() string {
	r.t.Helper()
	tag, err := r.env.PinnedTag(context.Background(), r.env.Production)
	if err != nil {
		r.t.Fatal(err)
	}
	return tag
}

// crashAt is a Forge that dies (panics, as a killed process stops) at the
// first call of one method, after which the test starts a new service.
type crashAt struct {
	Forge
	method string
	hit    atomic.Bool
}

var errCrash = errors.New("process killed")

func (c *crashAt) UpsertComment(ctx context.Context, repo forge.Repo, number int64, marker, text string) (forge.Comment, bool, error) {
	if c.method == "UpsertComment" && !c.hit.Swap(true) {
		panic(errCrash)
	}
	return c.Forge.UpsertComment(ctx, repo, number, marker, text)
}

func TestRestartBetweenRevertAndComment(t *testing.T) {
	r := newRig(t, scenario.Options{})
	c := r.fail()
	ctx := context.Background()

	first := r.service(&crashAt{Forge: r.forge, method: "UpsertComment"}, nil)
	func() {
		defer func() {
			if p := recover(); p != errCrash {
				t.Fatalf("the first run did not die at the comment: %v", p)
			}
		}()
		_, _ = first.Failed(ctx, "production", c)
	}()
	reverted := r.tip()
	if r.pinned() != "6.5.0" {
		t.Fatalf("after the first run production pins %s; the revert should have been pushed before the crash", r.pinned())
	}
	if n := len(r.rollbackComments()); n != 0 {
		t.Fatalf("%d rollback comments before the restart; the crash came before commenting", n)
	}

	second := r.service(nil, nil)
	out, err := second.Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted || out.Commit != reverted {
		t.Fatalf("after the restart: %+v; want the earlier revert %s resumed", out, reverted)
	}
	if tip := r.tip(); tip != reverted {
		t.Fatalf("main moved from the revert %s to %s: reverted twice", reverted, tip)
	}
	if n := len(r.rollbackComments()); n != 1 {
		t.Fatalf("%d rollback comments after the restart, want exactly 1", n)
	}
	// And once more: still one of each.
	if _, err := r.service(nil, nil).Failed(ctx, "production", c); err != nil {
		t.Fatal(err)
	}
	if tip := r.tip(); tip != reverted || len(r.rollbackComments()) != 1 {
		t.Fatalf("a third run changed something: tip %s, %d comments", tip, len(r.rollbackComments()))
	}
	annotation, err := r.env.Annotation(ctx, "Kustomization", "podinfo-production", "reconcile.fluxcd.io/requestedAt")
	if err != nil || annotation == "" {
		t.Fatalf("Flux was not asked to reconcile after the restart: %q, %v", annotation, err)
	}
}

// TestResumedRollbackKeepsTheComment: a restart, a resync or an API-server
// reconnect hands ensign the Failed canary again before Flux has applied the
// revert. The resumed handling asks Flux again and leaves the rollback comment
// as people read it (what ensign did), rather than rewriting it to "reverted
// before"; once Flux has applied the revert there is nothing more to do.
func TestResumedRollbackKeepsTheComment(t *testing.T) {
	r := newRig(t, scenario.Options{})
	c := r.fail()
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }
	requested := func() string {
		t.Helper()
		a, err := r.env.Annotation(ctx, "Kustomization", "podinfo-production", "reconcile.fluxcd.io/requestedAt")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	comment := func() string {
		t.Helper()
		cs := r.rollbackComments()
		if len(cs) != 1 {
			t.Fatalf("%d rollback comments, want 1", len(cs))
		}
		return cs[0].Body
	}

	first, err := r.serviceAt(nil, nil, at(0)).Failed(ctx, "production", c)
	if err != nil || first.Action != ActionReverted || len(first.Reconciled) == 0 {
		t.Fatalf("first handling: %+v, %v; want reverted and Flux asked", first, err)
	}
	asked, body := requested(), comment()
	if !strings.Contains(body, first.Reason) {
		t.Fatalf("the rollback comment does not say what ensign did (%q):\n%s", first.Reason, body)
	}

	second, err := r.serviceAt(nil, nil, at(time.Minute)).Failed(ctx, "production", c)
	if err != nil || second.Action != ActionReverted || second.Commit != first.Commit || second.Reason == first.Reason {
		t.Fatalf("resumed handling: %+v, %v; want the revert %s resumed", second, err, first.Commit)
	}
	if again := requested(); again == asked || len(second.Reconciled) == 0 {
		t.Fatalf("Flux had not applied the revert and was not asked again (requestedAt %q, then %q)", asked, again)
	}
	if got := comment(); got != body {
		t.Fatalf("the resumed handling rewrote the rollback comment:\n%s\nwas:\n%s", got, body)
	}

	// Flux applies the revert: the target runs the old version again.
	asked = requested()
	if _, err := r.env.FluxApply(ctx, r.env.Production); err != nil {
		t.Fatal(err)
	}
	third, err := r.serviceAt(nil, nil, at(2*time.Minute)).Failed(ctx, "production", c)
	if err != nil || third.Action != ActionNothingToRevert {
		t.Fatalf("handling after Flux applied the revert: %+v, %v; want nothing to revert", third, err)
	}
	if requested() != asked || comment() != body || r.tip() != first.Commit {
		t.Fatalf("the handling after Flux applied the revert changed something: requestedAt %q (was %q), tip %s", requested(), asked, r.tip())
	}
}

// racingTransport lets a person push to main right before ensign's first push
// reaches Gitea, so ensign's compare-and-swap loses and must rebuild.
type racingTransport struct {
	t      *testing.T
	env    *scenario.Env
	pushes atomic.Int32
}

func (rt *racingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-receive-pack") {
		if rt.pushes.Add(1) == 1 {
			_, err := rt.env.Commit(req.Context(), rt.env.Dev, "Document the release process", map[string]string{
				"RELEASING.md": "# Releasing\n\nCI pushes to staging; ensign does the rest.\n",
			})
			if err != nil {
				rt.t.Errorf("the person's push failed: %v", err)
			}
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPersonPushesBetweenFetchAndPush(t *testing.T) {
	r := newRig(t, scenario.Options{})
	c := r.fail()
	ctx := context.Background()
	rt := &racingTransport{t: t, env: r.env}
	s := r.service(nil, &http.Client{Transport: rt})
	out, err := s.Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted {
		t.Fatalf("outcome %+v, want reverted", out)
	}
	if n := rt.pushes.Load(); n != 2 {
		t.Fatalf("ensign pushed %d times; want 2 (the first loses the race, the rebuilt one lands)", n)
	}
	if r.pinned() != "6.5.0" {
		t.Fatalf("production pins %s, want the reverted 6.5.0", r.pinned())
	}
	readme, err := r.env.File(ctx, "RELEASING.md")
	if err != nil || !strings.Contains(readme, "ensign does the rest") {
		t.Fatalf("the person's commit is lost: %q, %v", readme, err)
	}
	fc, err := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := fc.GetSingleCommit(r.env.Org, r.env.Repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if head.SHA != out.Commit || len(head.Parents) != 1 {
		t.Fatalf("head %s (parents %d), want ensign's revert %s on top of the person's commit", head.SHA, len(head.Parents), out.Commit)
	}
	parent, _, err := fc.GetSingleCommit(r.env.Org, r.env.Repo, head.Parents[0].SHA)
	if err != nil || !strings.Contains(parent.RepoCommit.Message, "Document the release process") {
		t.Fatalf("the revert's parent is not the person's commit: %v", err)
	}
	// Exactly one revert landed.
	commits, _, err := fc.ListRepoCommits(r.env.Org, r.env.Repo, listCommits())
	if err != nil {
		t.Fatal(err)
	}
	reverts := 0
	for _, cm := range commits {
		if strings.Contains(cm.RepoCommit.Message, "Ensign-Reverts: "+r.change.MergeSHA) {
			reverts++
		}
	}
	if reverts != 1 {
		t.Fatalf("%d reverts of %s on main, want 1", reverts, r.change.MergeSHA)
	}
}

// TestIntroducerBeyondShallowStart fails a version brought in 60 commits
// ago: a fresh cache starts shallow and must deepen to find and revert it.
func TestIntroducerBeyondShallowStart(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	if _, err := r.env.Busywork(ctx, 60); err != nil {
		t.Fatal(err)
	}
	c := r.fail()
	out, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted || out.Reverted != r.change.MergeSHA {
		t.Fatalf("outcome %+v; want the merge %s 60 commits back reverted", out, r.change.MergeSHA)
	}
	if r.pinned() != "6.5.0" {
		t.Fatalf("production pins %s after the revert", r.pinned())
	}
	notes, err := r.env.File(ctx, "notes.md")
	if err != nil || notes != "take 60\n" {
		t.Fatalf("the later work was disturbed: %q, %v", notes, err)
	}
}

func TestFailedVersionNoLongerInGit(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	// A person reverts by hand before Flux has applied it; the target still
	// runs the failing 6.5.1 when the analysis fails.
	if _, err := r.env.Commit(ctx, r.env.Dev, "Back to 6.5.0, 6.5.1 breaks login", map[string]string{
		r.env.Production.Overlay + "/kustomization.yaml": r.env.OverlayFile(r.env.Production, "6.5.0"),
	}); err != nil {
		t.Fatal(err)
	}
	before := r.tip()
	c := r.fail()
	out, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionNotInGit || !strings.Contains(out.Reason, "nothing written") {
		t.Fatalf("outcome %+v, want not-in-git with nothing written", out)
	}
	if tip := r.tip(); tip != before {
		t.Fatalf("main moved %s -> %s; nothing should be written", before, tip)
	}
	waitEvent(t, r.env, "Rollback", "not-in-git")
}

func TestConflictingRevertIsReportedWithPaths(t *testing.T) {
	r := newRig(t, scenario.Options{})
	ctx := context.Background()
	// A later change touches the same line the promotion changed.
	overlay := r.env.OverlayFile(r.env.Production, "6.5.1")
	overlay = strings.Replace(overlay, "# the version running in production", "# pinned by the on-call engineer", 1)
	if _, err := r.env.Commit(ctx, r.env.Dev, "Note who pinned production", map[string]string{
		r.env.Production.Overlay + "/kustomization.yaml": overlay,
	}); err != nil {
		t.Fatal(err)
	}
	before := r.tip()
	c := r.fail()
	out, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	path := r.env.Production.Overlay + "/kustomization.yaml"
	if out.Action != ActionConflict || len(out.Conflicts) != 1 || out.Conflicts[0].Path != path || out.Conflicts[0].Kind != "content" {
		t.Fatalf("outcome %+v, want a content conflict in %s", out, path)
	}
	if tip := r.tip(); tip != before {
		t.Fatalf("main moved %s -> %s on a conflicting revert", before, tip)
	}
	comments := r.rollbackComments()
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "`"+path+"` (content)") {
		t.Fatalf("the original PR was not told which path conflicts: %+v", comments)
	}
	waitEvent(t, r.env, "Rollback", "conflict")
}

func TestRevertPRWhenPolicySaysPR(t *testing.T) {
	r := newRig(t, scenario.Options{RollbackMode: "pr"})
	ctx := context.Background()
	before := r.tip()
	c := r.fail()
	s := r.service(nil, nil)
	out, err := s.Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionRevertPR || out.PR == 0 {
		t.Fatalf("outcome %+v, want a revert pull request", out)
	}
	if tip := r.tip(); tip != before {
		t.Fatalf("main moved in pr mode")
	}
	pr, err := r.forge.GetPullRequest(ctx, r.env.ForgeRepo(), out.PR)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.HasLabel("rollback") || pr.HeadSHA != out.Commit || !strings.HasPrefix(pr.Title, "Revert ") {
		t.Fatalf("revert PR %+v", pr)
	}
	// Handling the same failure again adopts the same pull request.
	again, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if again.PR != out.PR || again.Commit != out.Commit {
		t.Fatalf("second run %+v; want the same PR #%d and commit %s", again, out.PR, out.Commit)
	}
	// A person merges it; the next look sees the failure answered.
	api, err := r.env.Gitea.Client(ctx, r.env.Dev.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := scenario.Wait(ctx, 30*time.Second, "merge of the revert PR", func() (bool, error) {
		ok, _, err := api.MergePullRequest(r.env.Org, r.env.Repo, out.PR, mergeOption())
		return ok, err
	}); err != nil {
		t.Fatal(err)
	}
	third, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if third.Action != ActionAlreadyReverted || third.PR != out.PR || len(third.Reconciled) == 0 {
		t.Fatalf("after the merge: %+v; want already-reverted via #%d and Flux asked to reconcile", third, out.PR)
	}
}

func waitEvent(t *testing.T, env *scenario.Env, reason, prefix string) {
	t.Helper()
	err := scenario.Wait(context.Background(), 10*time.Second, "event "+reason+" "+prefix, func() (bool, error) {
		evs, err := env.CanaryEvents(context.Background(), env.Production)
		for _, e := range evs {
			if e.Reason == reason && strings.HasPrefix(e.Message, prefix) {
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func listCommits() gitea.ListCommitOptions {
	return gitea.ListCommitOptions{SHA: "main", ListOptions: gitea.ListOptions{PageSize: 20}}
}

func mergeOption() gitea.MergePullRequestOption {
	return gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge}
}

// The real Flagger rewrites a Failed canary's lastTransitionTime at every
// interval until the primary changes. A failure seen again with a later
// time, after ensign's revert and before Flux applied it, is the same
// failure: the revert is resumed, not made twice nor reported "not in Git".
func TestFailedAgainWithLaterTransitionTime(t *testing.T) {
	r := newRig(t, scenario.Options{})
	c := r.fail()
	ctx := context.Background()
	out, err := r.service(nil, nil).Failed(ctx, "production", c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != ActionReverted {
		t.Fatalf("first failure: %+v, want a revert", out)
	}
	for i := 1; i <= 2; i++ {
		again := c.DeepCopy()
		again.Status.LastTransitionTime = metav1.NewTime(c.Status.LastTransitionTime.Add(time.Duration(i) * 10 * time.Second))
		got, err := r.service(nil, nil).Failed(ctx, "production", again)
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != ActionReverted || got.Commit != out.Commit {
			t.Fatalf("failure seen again %d intervals later: %+v; want the revert %s resumed", i, got, out.Commit)
		}
	}
	if tip := r.tip(); tip != out.Commit {
		t.Fatalf("main moved from the revert %s to %s", out.Commit, tip)
	}
	if n := len(r.rollbackComments()); n != 1 {
		t.Fatalf("%d rollback comments, want 1", n)
	}
	evs, err := r.env.CanaryEvents(ctx, r.env.Production)
	if err != nil {
		t.Fatal(err)
	}
	rollbacks := 0
	for _, e := range evs {
		if e.Reason == "Rollback" {
			rollbacks++
		}
	}
	if rollbacks != 1 {
		t.Fatalf("%d Rollback events on the canary, want one (same failure, same key)", rollbacks)
	}
}
