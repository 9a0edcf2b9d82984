package gitops_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/vocab"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// TestGiteaPushAndRevert runs the promotion and rollback paths against a real
// Gitea with token auth: a fast-forward edit, a revert pushed to a new
// branch, and a wrong token that must fail without leaking it.
func TestGiteaPushAndRevert(t *testing.T) {
	g := harness.Gitea(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bot, err := g.CreateUser(ctx, harness.UniqueName("ensignbot"))
	if err != nil {
		t.Fatal(err)
	}
	name := harness.UniqueName("gitops")
	cloneURL, err := g.CreateRepo(ctx, g.AdminUser, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddCollaborator(ctx, g.AdminUser, name, bot.Name, "write"); err != nil {
		t.Fatal(err)
	}
	r, err := gitops.Open(ctx, gitops.Options{Dir: t.TempDir(), URL: cloneURL, Token: bot.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
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
