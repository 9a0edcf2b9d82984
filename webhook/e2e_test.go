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

// TestPushEventsFromGitea has real Gitea deliver the push a merge causes and
// checks the push handler gets it decoded.
func TestPushEventsFromGitea(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	var (
		mu     sync.Mutex
		pushes []webhook.PushEvent
	)
	s, err := webhook.New(webhook.Config{
		Secret: []byte("s"), BotLogin: e.Bot.Name,
		Handlers: webhook.Handlers{
			Comment: func(context.Context, webhook.CommentEvent) error { return nil },
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
		URL: srv.URL + webhook.Path, Secret: "s", Events: []string{"push"},
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
		sawPush := false
		for _, ev := range pushes {
			sawPush = sawPush || ev.Owner == e.Repo.Owner && ev.Repo == e.Repo.Name && ev.Ref == "refs/heads/main" && ev.After == merged.MergeCommitSHA
		}
		return sawPush, "pushes " + describe(pushes)
	})
}

func describe[T any](evs []T) string { return fmt.Sprintf("%+v", evs) }
