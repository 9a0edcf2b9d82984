package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/webhook"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// TestPullRequestAndPushEventsFromGitea has real Gitea deliver the events a
// merge causes and checks the optional handlers get them decoded.
func TestPullRequestAndPushEventsFromGitea(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	var (
		mu     sync.Mutex
		prs    []webhook.PullRequestEvent
		pushes []webhook.PushEvent
	)
	s, err := webhook.New(webhook.Config{
		Secret: []byte("s"), BotLogin: e.Bot.Name,
		Handlers: webhook.Handlers{
			Comment: func(context.Context, webhook.CommentEvent) error { return nil },
			PullRequest: func(_ context.Context, ev webhook.PullRequestEvent) error {
				mu.Lock()
				defer mu.Unlock()
				prs = append(prs, ev)
				return nil
			},
			Push: func(_ context.Context, ev webhook.PushEvent) error {
				mu.Lock()
				defer mu.Unlock()
				pushes = append(pushes, ev)
				return nil
			},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if _, _, err := e.Client.EnsureWebhook(ctx, e.Repo, forge.Webhook{
		URL: srv.URL + webhook.Path, Secret: "s", Events: []string{"pull_request", "push"},
	}); err != nil {
		t.Fatal(err)
	}

	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	forgetest.Eventually(t, 30*time.Second, func() (bool, string) {
		got, err := e.Client.GetPullRequest(ctx, e.Repo, pr.Number)
		return err == nil && got.Mergeable, "pull request never became mergeable"
	})
	if err := e.Client.Merge(ctx, e.Repo, pr.Number, forge.MergeOptions{HeadSHA: pr.HeadSHA}); err != nil {
		t.Fatal(err)
	}
	merged, err := e.Client.GetPullRequest(ctx, e.Repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}

	forgetest.Eventually(t, 30*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		var sawOpened, sawMerged, sawPush bool
		for _, ev := range prs {
			if ev.Owner != e.Repo.Owner || ev.Repo != e.Repo.Name || ev.Number != pr.Number {
				continue
			}
			sawOpened = sawOpened || ev.Action == "opened" && ev.HeadBranch == "feature" && ev.BaseBranch == "main" && ev.HeadSHA == pr.HeadSHA
			sawMerged = sawMerged || ev.Action == "closed" && ev.Merged && ev.MergeCommitSHA == merged.MergeCommitSHA
		}
		for _, ev := range pushes {
			sawPush = sawPush || ev.Ref == "refs/heads/main" && ev.After == merged.MergeCommitSHA
		}
		return sawOpened && sawMerged && sawPush, "pull request events " + describe(prs) + "; pushes " + describe(pushes)
	})
}

func describe[T any](evs []T) string { return fmt.Sprintf("%+v", evs) }
