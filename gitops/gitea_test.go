package gitops_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/vocab"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// giteaRepo makes a repository on the harness's Gitea and a user with
// write access to it, and opens a cache of it as that user; client, if
// set, carries the cache's Git traffic.
func giteaRepo(t testing.TB, ctx context.Context, client *http.Client) (g *harness.GiteaServer, bot harness.GiteaUser, name, cloneURL string, r *gitops.Repo) {
	t.Helper()
	g = harness.Gitea(t)
	bot, err := g.CreateUser(ctx, harness.UniqueName("ensignbot"))
	if err != nil {
		t.Fatal(err)
	}
	name = harness.UniqueName("gitops")
	if cloneURL, err = g.CreateRepo(ctx, g.AdminUser, name); err != nil {
		t.Fatal(err)
	}
	if err := g.AddCollaborator(ctx, g.AdminUser, name, bot.Name, "write"); err != nil {
		t.Fatal(err)
	}
	if r, err = gitops.Open(ctx, gitops.Options{Dir: t.TempDir(), URL: cloneURL, Token: bot.Token, HTTPClient: client}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return g, bot, name, cloneURL, r
}

// TestGiteaPushAndRevert runs the promotion and rollback paths against a real
// Gitea with token auth: a fast-forward edit, a revert pushed to a new
// branch, and a wrong token that must fail without leaking it.
func TestGiteaPushAndRevert(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g, bot, name, cloneURL, r := giteaRepo(t, ctx, nil)
	id := gitops.Identity{Name: bot.Name, Email: bot.Name + "@example.com"}
	res, err := r.Update(ctx, gitops.Target{Branch: "main"}, gitops.CommitMeta{
		Message:  "Promote app to v2",
		Trailers: []gitops.Trailer{{Key: vocab.TrailerPromotion, Value: "app/v2"}},
		Author:   id,
	}, func(ed *gitops.TreeEditor) error {
		return ed.WriteFile("apps/prod/kustomization.yaml", []byte("images:\n  - name: app\n    newTag: v2\n"))
	})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.Revert(ctx, gitops.Target{Branch: "ensign/revert-1", Base: "main", Mode: gitops.CreateBranch},
		gitops.RevertRequest{Commit: res.Commit, Author: id})
	if err != nil {
		t.Fatal(err)
	}
	client, err := g.Client(ctx, bot.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Gitea processes pushes asynchronously: poll until its API shows both.
	waitBranch := func(branch, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _, err := client.GetRepoBranch(g.AdminUser, name, branch)
			if err == nil && b.Commit != nil && b.Commit.ID == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("gitea branch %s: %v, %v; want %s", branch, b, err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitBranch("main", res.Commit.String())
	waitBranch("ensign/revert-1", rev.Commit.String())
	if _, resp, err := client.GetFile(g.AdminUser, name, "ensign/revert-1", "apps/prod/kustomization.yaml"); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("file added by the reverted commit is still on the revert branch (err %v)", err)
	}
	if _, _, err := client.GetFile(g.AdminUser, name, "main", "apps/prod/kustomization.yaml"); err != nil {
		t.Fatalf("promoted file missing on main: %v", err)
	}

	bad, err := gitops.Open(ctx, gitops.Options{Dir: t.TempDir(), URL: cloneURL, Token: "wrong-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Update(ctx, gitops.Target{Branch: "main"}, gitops.CommitMeta{Message: "x", Author: id},
		func(ed *gitops.TreeEditor) error { return ed.WriteFile("x", []byte("x")) })
	if err == nil {
		t.Fatal("push with a wrong token succeeded")
	}
	if strings.Contains(err.Error(), "wrong-token-value") || strings.Contains(err.Error(), bot.Token) {
		t.Fatalf("error leaks a token: %v", err)
	}
	var rej *gitops.PushRejectedError
	if errors.As(err, &rej) && rej.Stale {
		t.Fatalf("auth failure reported as a lost race: %v", err)
	}
	t.Logf("wrong token: %v", err)
}

// TestGiteaPropose pushes to refs/for/ (Gitea's AGit flow): the first push
// opens a pull request with the push options' title and body, the same
// commit pushed again is a success that changes nothing, and a new commit
// moves the same pull request's head (with force-push, as it is rebuilt on
// the base rather than on the old head). No branch is created.
func TestGiteaPropose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g, bot, name, _, r := giteaRepo(t, ctx, nil)
	client, err := g.Client(ctx, bot.Token)
	if err != nil {
		t.Fatal(err)
	}
	meta := gitops.CommitMeta{Message: "Promote app", Author: gitops.Identity{Name: bot.Name, Email: bot.Name + "@example.com"}, When: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	write := func(tag string) func(*gitops.TreeEditor) error {
		return func(ed *gitops.TreeEditor) error {
			return ed.WriteFile("apps/prod/kustomization.yaml", []byte("images:\n  - name: app\n    newTag: "+tag+"\n"))
		}
	}
	body := "Promotes app.\n\n<!-- a marker -->\n"
	target := gitops.Target{Branch: "promote/app/prod/1", Base: "main", Mode: gitops.Propose,
		PushOptions: []string{"force-push=true", "title=Promote app to v2", "description={base64}" + base64.StdEncoding.EncodeToString([]byte(body))}}
	first, err := r.Update(ctx, target, meta, write("v2"))
	if err != nil {
		t.Fatal(err)
	}
	pulls := func() []*gitea.PullRequest {
		t.Helper()
		prs, _, err := client.ListRepoPullRequests(g.AdminUser, name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
		if err != nil {
			t.Fatal(err)
		}
		return prs
	}
	prs := pulls()
	if len(prs) != 1 || prs[0].Title != "Promote app to v2" || prs[0].Body != body || prs[0].Head.Sha != first.Commit.String() || prs[0].Base.Ref != "main" {
		t.Fatalf("pull requests after the proposal: %+v", prs)
	}
	again, err := r.Update(ctx, target, meta, write("v2"))
	if err != nil || again.Commit != first.Commit {
		t.Fatalf("the same proposal again: %v, %v; want the same commit, no error", again, err)
	}
	moved, err := r.Update(ctx, target, meta, write("v3"))
	if err != nil {
		t.Fatal(err)
	}
	if prs := pulls(); len(prs) != 1 || prs[0].Head.Sha != moved.Commit.String() {
		t.Fatalf("pull requests after a new commit: %d, head %s; want one, at %s", len(prs), prs[0].Head.Sha, moved.Commit)
	}
	branches, err := r.Branches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(branches) != 1 {
		t.Fatalf("branches %v; a proposal must create none", branches)
	}
	// Without force-push, Gitea refuses a head that does not build on the
	// old one: a refusal, not a lost race.
	_, err = r.Update(ctx, gitops.Target{Branch: target.Branch, Base: "main", Mode: gitops.Propose}, meta, write("v4"))
	var rej *gitops.PushRejectedError
	if !errors.As(err, &rej) || rej.Stale || !strings.Contains(rej.Reason, "force-push") {
		t.Fatalf("a non-fast-forward proposal without force-push: %v; want Gitea's refusal", err)
	}
}

// BenchmarkGiteaProposal opens one pull request per operation on a real
// Gitea, the two ways ensign has done it: a branch push and POST /pulls
// (each runs Gitea's git hooks: the push, and the internal push to
// refs/pull/<n>/head that opening the pull request makes), against one push
// to refs/for/ (AGit), which opens it inside that push. Besides ns/op it
// reports Gitea's CPU time per pull request, its git and hook processes
// included.
func BenchmarkGiteaProposal(b *testing.B) {
	ctx := context.Background()
	g, bot, name, _, r := giteaRepo(b, ctx, nil)
	client, err := g.Client(ctx, bot.Token)
	if err != nil {
		b.Fatal(err)
	}
	meta := gitops.CommitMeta{Message: "Promote app", Author: gitops.Identity{Name: bot.Name, Email: bot.Name + "@example.com"}}
	n := 0
	edit := func(ed *gitops.TreeEditor) error {
		return ed.WriteFile("apps/prod/kustomization.yaml", []byte(fmt.Sprintf("images:\n  - name: app\n    newTag: v%d\n", n)))
	}
	open := map[string]func(b *testing.B, topic string){
		"branch+POST": func(b *testing.B, topic string) {
			if _, err := r.Update(ctx, gitops.Target{Branch: topic, Base: "main", Mode: gitops.CreateBranch}, meta, edit); err != nil {
				b.Fatal(err)
			}
			if _, _, err := client.CreatePullRequest(g.AdminUser, name, gitea.CreatePullRequestOption{Head: topic, Base: "main", Title: "Promote app", Body: "body"}); err != nil {
				b.Fatal(err)
			}
		},
		"agit": func(b *testing.B, topic string) {
			if _, err := r.Update(ctx, gitops.Target{Branch: topic, Base: "main", Mode: gitops.Propose, PushOptions: []string{"title=Promote app", "description=body"}}, meta, edit); err != nil {
				b.Fatal(err)
			}
		},
	}
	for _, way := range []string{"branch+POST", "agit"} {
		b.Run(way, func(b *testing.B) {
			cpu0, err := g.CPU()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				n++
				open[way](b, fmt.Sprintf("promote/app/prod/%d", n))
			}
			cpu1, err := g.CPU()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((cpu1-cpu0).Milliseconds())/float64(b.N), "gitea-cpu-ms/op")
		})
	}
}

// countPushes counts the receive-pack requests (pushes) that go through it.
type countPushes struct {
	base   http.RoundTripper
	pushes atomic.Int32
}

func (c *countPushes) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-receive-pack") {
		c.pushes.Add(1)
	}
	return c.base.RoundTrip(req)
}

// TestGiteaProposalsTogether proposes five commits at once, each with its
// own title: they go out in fewer pushes than five (one, unless the first
// had left before the others came), and Gitea opens five pull requests,
// each with its own head. Push options go with a push, not a reference, so
// their titles are not theirs: Gitea 1.26 gives every pull request a push
// opens without a title option the title of the first one's commit. The
// promote package sets titles and bodies through the API after a push.
func TestGiteaProposalsTogether(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	counter := &countPushes{base: http.DefaultTransport}
	g, bot, name, _, r := giteaRepo(t, ctx, &http.Client{Transport: counter})
	if _, err := r.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	heads := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			meta := gitops.CommitMeta{Message: fmt.Sprintf("Promote app-%d", i), Author: gitops.Identity{Name: bot.Name, Email: bot.Name + "@example.com"}}
			res, err := r.Update(ctx, gitops.Target{Branch: fmt.Sprintf("promote/app-%d/prod/1", i), Base: "main", Mode: gitops.Propose,
				PushOptions: []string{"force-push=true", fmt.Sprintf("title=Title %d", i)}}, meta, func(ed *gitops.TreeEditor) error {
				return ed.WriteFile(fmt.Sprintf("apps/app-%d/kustomization.yaml", i), []byte("images: []\n"))
			})
			if err != nil {
				errs <- err
				return
			}
			heads[i] = res.Commit.String()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := counter.pushes.Load(); p >= n {
		t.Fatalf("%d pushes for %d proposals made together", p, n)
	} else {
		t.Logf("%d proposals in %d pushes", n, p)
	}
	client, err := g.Client(ctx, bot.Token)
	if err != nil {
		t.Fatal(err)
	}
	prs, _, err := client.ListRepoPullRequests(g.AdminUser, name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]bool{}
	for _, pr := range prs {
		opened[pr.Head.Sha] = true
	}
	for i, h := range heads {
		if !opened[h] {
			t.Errorf("proposal %d (%s) opened no pull request", i, h)
		}
	}
	if len(prs) != n {
		t.Fatalf("%d pull requests, want %d", len(prs), n)
	}
}

// TestGiteaAnnouncedProposalJoins: a proposal announced before it starts
// (ExpectProposal) is waited for by the one that is already pushing, for
// up to 300 ms, so both go out in one push; without the announcement the
// first would have left after 60 ms of quiet.
func TestGiteaAnnouncedProposalJoins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	counter := &countPushes{base: http.DefaultTransport}
	_, bot, _, _, r := giteaRepo(t, ctx, &http.Client{Transport: counter})
	if _, err := r.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	propose := func(i int, e *gitops.Expected) error {
		meta := gitops.CommitMeta{Message: fmt.Sprintf("Promote app-%d", i), Author: gitops.Identity{Name: bot.Name, Email: bot.Name + "@example.com"}}
		_, err := r.Update(ctx, gitops.Target{Branch: fmt.Sprintf("promote/app-%d/prod/1", i), Base: "main", Mode: gitops.Propose, Expected: e}, meta, func(ed *gitops.TreeEditor) error {
			return ed.WriteFile(fmt.Sprintf("apps/app-%d/kustomization.yaml", i), []byte("images: []\n"))
		})
		return err
	}
	// A first proposal, alone, so that Gitea has served this repository
	// before and the timing below is the repository's, not a cold start's.
	if err := propose(9, nil); err != nil {
		t.Fatal(err)
	}
	counter.pushes.Store(0)
	late := r.ExpectProposal()
	defer late.Cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- propose(0, nil) })
	wg.Go(func() {
		time.Sleep(200 * time.Millisecond) // reading what it needs
		errs <- propose(1, late)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := counter.pushes.Load(); p != 1 {
		t.Fatalf("%d pushes, want the announced proposal in the first one", p)
	}
}
