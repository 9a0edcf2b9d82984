package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
	"github.com/ensignbot/ensign/policy"
)

// An admin freezes production with a comment: the policy on main gets the
// freeze, a verified version's promotion waits with who froze it and why,
// a writer may not lift it, and the admin's /unfreeze merges the queued
// promotion at once, inside the open window.
func TestFreezeByCommentHoldsPromotionsUntilLifted(t *testing.T) {
	mondayNoon := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	r := newStoryRig(t, mondayNoon, scenario.Options{})
	env, ctx := r.env, context.Background()
	ops, err := env.Gitea.CreateUser(ctx, harness.UniqueName("ops"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Gitea.AddCollaborator(ctx, env.Org, env.Repo, ops.Name, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.CommitOnBranch(ctx, env.Dev, "notes", "release notes", map[string]string{"NOTES.md": "notes\n"}); err != nil {
		t.Fatal(err)
	}
	notes, _, err := r.personClient(env.Dev).CreatePullRequest(env.Org, env.Repo, gitea.CreatePullRequestOption{Head: "notes", Base: "main", Title: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	reply := func(number int64, command string) string {
		t.Helper()
		var body string
		r.waitFor("ensign's answer to "+command, 60*time.Second, func() (bool, error) {
			for _, c := range r.comments(number) {
				if c.Poster != nil && c.Poster.UserName == env.Bot.Name && strings.Contains(c.Body, command) {
					body = c.Body
					return true, nil
				}
			}
			return false, nil
		})
		return body
	}
	freezes := func() []policy.Freeze {
		t.Helper()
		data, err := env.File(ctx, ".ensign.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Load(".ensign.yaml", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return p.Freezes
	}

	if _, err := env.Say(ctx, ops, notes.Index, "/freeze production 4h incident 42: payments down"); err != nil {
		t.Fatal(err)
	}
	if body := reply(notes.Index, "/freeze production"); !strings.Contains(body, "Frozen") || !strings.Contains(body, "incident 42") {
		t.Fatalf("answer to /freeze:\n%s", body)
	}
	if fs := freezes(); len(fs) != 1 || fs[0].By != ops.Name || fs[0].Stage != "production" || len(fs[0].Apps) != 0 {
		t.Fatalf("freezes on main: %+v", fs)
	}

	// A verified version waits for the freeze, though the window is open.
	if _, err := env.ReleaseToStaging(ctx, "6.5.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.FluxApply(ctx, env.Staging); err != nil {
		t.Fatal(err)
	}
	if err := env.Analyse(ctx, env.Staging, true); err != nil {
		t.Fatal(err)
	}
	var pr *gitea.PullRequest
	r.waitFor("a queued promotion", 60*time.Second, func() (bool, error) {
		prs := r.promotionPRs()
		if len(prs) == 1 && hasLabel(prs[0], "queued") {
			pr = prs[0]
			return true, nil
		}
		return false, nil
	})
	r.waitFor("the status comment to name the freeze", 30*time.Second, func() (bool, error) {
		return strings.Contains(r.statusComment(pr.Index), "emergency freeze by "+ops.Name), nil
	})

	if _, err := env.Say(ctx, env.Dev, pr.Index, "/unfreeze production"); err != nil {
		t.Fatal(err)
	}
	if body := reply(pr.Index, "Refused"); !strings.Contains(body, "admin") {
		t.Fatalf("answer to a writer's /unfreeze:\n%s", body)
	}
	if len(freezes()) != 1 {
		t.Fatal("a writer lifted the freeze")
	}
	if _, err := env.Say(ctx, ops, pr.Index, "/unfreeze production"); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the queued promotion to merge once unfrozen", 60*time.Second, func() (bool, error) {
		p, _, err := r.api().GetPullRequest(env.Org, env.Repo, pr.Index)
		return err == nil && p.HasMerged, err
	})
	if fs := freezes(); len(fs) != 0 {
		t.Fatalf("freezes after /unfreeze: %+v", fs)
	}
	if tag, _ := env.PinnedTag(ctx, env.Production); tag != "6.5.1" {
		t.Fatalf("production pins %s; want 6.5.1", tag)
	}
}
