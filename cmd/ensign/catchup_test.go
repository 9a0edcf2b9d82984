package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/internal/faults"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/vocab"
)

// A command delivered while Gitea answers ensign 503 cannot be read; Gitea
// will not deliver it again. ensign answers it once Gitea answers again,
// without waiting for the next resync (an hour here).
func TestCommandWhoseHandlingFailedIsAnsweredAfterGiteaRecovers(t *testing.T) {
	r := newStoryRig(t, time.Now(), scenario.Options{})
	u, err := url.Parse(r.env.Gitea.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faults.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r.stop()
	r.cfg.GiteaURL, r.cfg.Resync = "http://"+p.Addr(), time.Hour
	r.start()

	ctx := context.Background()
	branch := "notes-" + r.env.Org
	if _, err := r.env.CommitOnBranch(ctx, r.env.Dev, branch, "Notes", map[string]string{"notes.md": "notes\n"}); err != nil {
		t.Fatal(err)
	}
	pr, _, err := r.api().CreatePullRequest(r.env.Org, r.env.Repo, gitea.CreatePullRequestOption{Head: branch, Base: "main", Title: "Notes"})
	if err != nil {
		t.Fatal(err)
	}

	p.SetMode(faults.Unavailable)
	cm, _, err := r.api().CreateIssueComment(r.env.Org, r.env.Repo, pr.Index, gitea.CreateIssueCommentOption{Body: "/help"})
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor("ensign to fail reading the comment", time.Minute, func() (bool, error) {
		for _, line := range strings.Split(r.scrapeMetrics(), "\n") {
			if strings.HasPrefix(line, "ensign_gitea_requests_total{") && strings.Contains(line, `code="503"`) && strings.Contains(line, "/issues/comments/{id}") {
				return true, nil
			}
		}
		return false, nil
	})
	p.SetMode(faults.Forward)
	marker := vocab.ReplyMarker(cm.ID)
	answers := func() int {
		n := 0
		for _, c := range r.comments(pr.Index) {
			if c.Poster != nil && c.Poster.UserName == r.env.Bot.Name && strings.HasPrefix(c.Body, marker) {
				n++
			}
		}
		return n
	}
	r.waitFor("the answer to /help", time.Minute, func() (bool, error) { return answers() > 0, nil })
	if n := answers(); n != 1 {
		t.Fatalf("%d answers to /help, want one", n)
	}
}
