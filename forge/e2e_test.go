package forge_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/forge/forgetest"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/vocab"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestEnsurePullRequestAdoptsAndUpdates(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	first := e.OpenPR(t, "ensign/promote-podinfo", "apps/podinfo.yaml", "image: podinfo:6.5.1\n")
	if first.Number == 0 || first.HeadBranch != "ensign/promote-podinfo" || first.BaseBranch != "main" || first.HeadSHA == "" {
		t.Fatalf("opened %+v", first)
	}
	again, created, err := e.Client.EnsurePullRequest(ctx, e.Repo, forge.NewPullRequest{
		Head: "ensign/promote-podinfo", Base: "main", Title: "Promote podinfo 6.5.2", Body: "new body",
	})
	if err != nil {
		t.Fatal(err)
	}
	if created || again.Number != first.Number {
		t.Fatalf("second ensure: created=%v number=%d, want adopted #%d", created, again.Number, first.Number)
	}
	got, _, err := e.Admin(t).GetPullRequest(e.Repo.Owner, e.Repo.Name, first.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Promote podinfo 6.5.2" || got.Body != "new body" {
		t.Fatalf("adopted PR title %q body %q, want updated", got.Title, got.Body)
	}
	prs, _, err := e.Admin(t).ListRepoPullRequests(e.Repo.Owner, e.Repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateOpen})
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 {
		t.Fatalf("%d open pull requests, want 1", len(prs))
	}
}

func TestClosePullRequestIsIdempotent(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "old", "a.yaml", "a: 1\n")
	for range 2 {
		if err := e.Client.ClosePullRequest(ctx, e.Repo, pr.Number, "Superseded by #99."); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Client.GetPullRequest(ctx, e.Repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Open() || got.Merged {
		t.Fatalf("state %q merged %v, want closed unmerged", got.State, got.Merged)
	}
	if cs := e.Comments(t, pr.Number, e.Bot.Name); len(cs) != 1 || !strings.Contains(cs[0].Body, "Superseded by #99.") {
		t.Fatalf("bot comments %d, want exactly one closing comment", len(cs))
	}
}

func TestLabels(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	other := e.OpenPR(t, "feature2", "b.yaml", "b: 1\n")
	hold := forge.Label{Name: "hold", Color: "#e11d21"}

	// Concurrent adds on two pull requests create the repository label once.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, n := range []int64{pr.Number, other.Number} {
		wg.Go(func() {
			if added, err := e.Client.AddLabel(ctx, e.Repo, n, hold); err != nil || !added {
				errs <- errors.Join(err, errors.New("label not added"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	repoLabels, _, err := e.Admin(t).ListRepoLabels(e.Repo.Owner, e.Repo.Name, gitea.ListLabelsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := countNamed(repoLabels, "hold"); n != 1 {
		t.Fatalf("%d repository labels named hold, want 1", n)
	}
	if added, err := e.Client.AddLabel(ctx, e.Repo, pr.Number, hold); err != nil || added {
		t.Fatalf("second add: added=%v err=%v, want no-op", added, err)
	}
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels %v", got)
	}

	held, err := e.Client.ListOpenPullRequests(ctx, e.Repo, "hold")
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 {
		t.Fatalf("%d open pull requests labelled hold, want 2", len(held))
	}

	if removed, err := e.Client.RemoveLabel(ctx, e.Repo, pr.Number, "hold"); err != nil || !removed {
		t.Fatalf("remove: removed=%v err=%v", removed, err)
	}
	if removed, err := e.Client.RemoveLabel(ctx, e.Repo, pr.Number, "hold"); err != nil || removed {
		t.Fatalf("second remove: removed=%v err=%v, want no-op", removed, err)
	}
	if got := e.Labels(t, pr.Number); len(got) != 0 {
		t.Fatalf("labels after remove %v", got)
	}
	held, err = e.Client.ListOpenPullRequests(ctx, e.Repo, "hold")
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].Number != other.Number {
		t.Fatalf("held after remove = %+v, want only #%d", held, other.Number)
	}

	// A label deleted behind the cache's back is recreated.
	if _, err := e.Admin(t).DeleteLabel(e.Repo.Owner, e.Repo.Name, repoLabels[slices.IndexFunc(repoLabels, func(l *gitea.Label) bool { return l.Name == "hold" })].ID); err != nil {
		t.Fatal(err)
	}
	if added, err := e.Client.AddLabel(ctx, e.Repo, pr.Number, hold); err != nil || !added {
		t.Fatalf("add after delete: added=%v err=%v", added, err)
	}
	if got := e.Labels(t, pr.Number); !slices.Equal(got, []string{"hold"}) {
		t.Fatalf("labels after re-add %v", got)
	}
}

func countNamed(ls []*gitea.Label, name string) int {
	n := 0
	for _, l := range ls {
		if l.Name == name {
			n++
		}
	}
	return n
}

func TestUpsertCommentInPlace(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	// A human pasting the marker must not make ensign edit their comment.
	alice := e.User(t, "alice", "write")
	e.Comment(t, alice, pr.Number, vocab.StatusMarker+"\nI copied the marker")

	c1, created, err := e.Client.UpsertComment(ctx, e.Repo, pr.Number, vocab.StatusMarker, "first")
	if err != nil || !created {
		t.Fatalf("first upsert: created=%v err=%v", created, err)
	}
	c2, created, err := e.Client.UpsertComment(ctx, e.Repo, pr.Number, vocab.StatusMarker, "second")
	if err != nil || created || c2.ID != c1.ID {
		t.Fatalf("second upsert: created=%v id=%d err=%v, want edit of %d", created, c2.ID, err, c1.ID)
	}
	if _, created, err := e.Client.UpsertComment(ctx, e.Repo, pr.Number, vocab.StatusMarker, "second"); err != nil || created {
		t.Fatalf("unchanged upsert: created=%v err=%v", created, err)
	}
	bot := e.Comments(t, pr.Number, e.Bot.Name)
	if len(bot) != 1 || bot[0].Body != vocab.StatusMarker+"\nsecond" {
		t.Fatalf("bot comments = %d (%v), want one reading second", len(bot), bodies(bot))
	}
	if human := e.Comments(t, pr.Number, alice.Name); len(human) != 1 || !strings.Contains(human[0].Body, "I copied the marker") {
		t.Fatalf("the human's comment changed: %v", bodies(human))
	}

	if err := e.Client.SetStatusSection(ctx, e.Repo, pr.Number, "hold", "on hold"); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.SetStatusSection(ctx, e.Repo, pr.Number, "promote", "waiting"); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.SetStatusSection(ctx, e.Repo, pr.Number, "hold", ""); err != nil {
		t.Fatal(err)
	}
	got, found, err := e.Client.FindComment(ctx, e.Repo, pr.Number, vocab.StatusMarker)
	if err != nil || !found || got.ID != c1.ID {
		t.Fatalf("find: found=%v id=%d err=%v", found, got.ID, err)
	}
	if vocab.Section(got.Body, "hold") != "" || vocab.Section(got.Body, "promote") != "waiting" {
		t.Fatalf("status comment %q", got.Body)
	}
	if n := len(e.Comments(t, pr.Number, e.Bot.Name)); n != 1 {
		t.Fatalf("%d bot comments, want 1", n)
	}
}

// Two processes (two clients, so no shared in-process lock) upserting the
// same marker at the same moment leave one comment, not two.
func TestRacingUpsertsLeaveOneComment(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	clients := make([]*forge.Client, 4)
	for i := range clients {
		c, err := forge.New(forge.Config{URL: e.G.URL, Token: e.Bot.Token})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	marker := vocab.RollbackMarker("0123456789abcdef0123456789abcdef01234567")
	for round := range 3 {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				// Gitea on SQLite may answer 500 to writes of one row at
				// the same moment; that is the racing writer's to retry.
				var se *forge.StatusError
				if _, _, err := c.UpsertComment(ctx, e.Repo, pr.Number, marker, fmt.Sprintf("round %d from %d", round, i)); err != nil && !(errors.As(err, &se) && se.Code >= 500) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(e.Comments(t, pr.Number, e.Bot.Name)); n != 1 {
			t.Fatalf("round %d: %d bot comments after racing upserts, want 1", round, n)
		}
	}
}

func bodies(cs []*gitea.Comment) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return out
}

func TestRepoPermissionAndTeams(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	reader := e.User(t, "rita", "read")
	writer := e.User(t, "will", "write")
	admin := e.User(t, "ada", "admin")
	stranger := e.User(t, "sam", "")
	tests := []struct {
		user string
		want string
	}{
		{reader.Name, "read"},
		{writer.Name, "write"},
		{admin.Name, "admin"},
		{e.G.AdminUser, "owner"}, // the org's owner
		{stranger.Name, "read"},  // the org and repo are public
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, err := e.Client.RepoPermission(ctx, e.Repo, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("permission %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := e.Client.RepoPermission(ctx, e.Repo, "no-such-user-xyz"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("unknown user: err = %v, want ErrNotFound", err)
	}

	// Team membership: the bot needs to be able to see teams; make it an org
	// owner as the README asks.
	e.AddOwner(t, e.Bot.Name)
	if err := e.G.CreateTeam(ctx, e.Org, "release", "read", reader.Name); err != nil {
		t.Fatal(err)
	}
	// Team names are case-insensitive.
	if ok, err := e.Client.TeamMember(ctx, e.Org, "Release", reader.Name); err != nil || !ok {
		t.Fatalf("reader in release: %v, %v", ok, err)
	}
	if ok, err := e.Client.TeamMember(ctx, e.Org, "Release", writer.Name); err != nil || ok {
		t.Fatalf("writer in release: %v, %v", ok, err)
	}
	if _, err := e.Client.TeamMember(ctx, e.Org, "nope", reader.Name); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("missing team: err = %v, want ErrNotFound", err)
	}
}

func TestMergeExpectedHead(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "feature", "a.yaml", "a: 1\n")
	waitMergeable(t, e, pr.Number)

	err := e.Client.Merge(ctx, e.Repo, pr.Number, forge.MergeOptions{HeadSHA: strings.Repeat("0", 40)})
	if !errors.Is(err, forge.ErrHeadChanged) {
		t.Fatalf("merge with stale head: %v, want ErrHeadChanged", err)
	}
	if err := e.Client.Merge(ctx, e.Repo, pr.Number, forge.MergeOptions{HeadSHA: pr.HeadSHA, Style: forge.MergeSquash}); err != nil {
		t.Fatal(err)
	}
	got, err := e.Client.GetPullRequest(ctx, e.Repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Merged || got.MergeCommitSHA == "" {
		t.Fatalf("after merge: %+v", got)
	}
	head, err := e.Client.BranchHead(ctx, e.Repo, "main")
	if err != nil || head != got.MergeCommitSHA {
		t.Fatalf("main at %s (%v), want merge commit %s", head, err, got.MergeCommitSHA)
	}
	if data, err := e.Client.GetFile(ctx, e.Repo, "main", "a.yaml"); err != nil || string(data) != "a: 1\n" {
		t.Fatalf("a.yaml on main = %q, %v", data, err)
	}
	if _, err := e.Client.GetFile(ctx, e.Repo, "main", "missing.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
	if err := e.Client.Merge(ctx, e.Repo, pr.Number, forge.MergeOptions{HeadSHA: pr.HeadSHA}); !errors.Is(err, forge.ErrAlreadyMerged) {
		t.Fatalf("second merge: %v, want ErrAlreadyMerged", err)
	}
}

func waitMergeable(t *testing.T, e *forgetest.Env, number int64) {
	t.Helper()
	forgetest.Eventually(t, 30*time.Second, func() (bool, string) {
		pr, err := e.Client.GetPullRequest(forgetest.Ctx(t), e.Repo, number)
		return err == nil && pr.Mergeable, "pull request never became mergeable"
	})
}

// countingTransport counts merge requests Gitea answered with 405. It only
// observes real traffic; it changes nothing.
type countingTransport struct {
	merges, refused atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/merge") {
		c.merges.Add(1)
		if resp.StatusCode == http.StatusMethodNotAllowed {
			c.refused.Add(1)
		}
	}
	return resp, err
}

// TestMergeWaitsOutTryAgainLater merges one pull request and, right after,
// another into the same base. Gitea re-checks the second one's mergeability
// after the first merge and refuses it with 405 "Please try again later"
// meanwhile; Merge must wait that out and succeed.
func TestMergeWaitsOutTryAgainLater(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	counter := &countingTransport{}
	c, err := forge.New(forge.Config{URL: e.G.URL, Token: e.Bot.Token, HTTPClient: &http.Client{Transport: counter}, MergeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 3
	for i := range rounds {
		a := e.OpenPR(t, harness.UniqueName("a"), harness.UniqueName("a")+".yaml", "a\n")
		b := e.OpenPR(t, harness.UniqueName("b"), harness.UniqueName("b")+".yaml", "b\n")
		waitMergeable(t, e, a.Number)
		waitMergeable(t, e, b.Number)
		if err := c.Merge(ctx, e.Repo, a.Number, forge.MergeOptions{HeadSHA: a.HeadSHA}); err != nil {
			t.Fatalf("round %d: merge first: %v", i, err)
		}
		if err := c.Merge(ctx, e.Repo, b.Number, forge.MergeOptions{HeadSHA: b.HeadSHA}); err != nil {
			t.Fatalf("round %d: merge second right after the first: %v", i, err)
		}
		got, err := c.GetPullRequest(ctx, e.Repo, b.Number)
		if err != nil || !got.Merged {
			t.Fatalf("round %d: second not merged: %+v %v", i, got, err)
		}
	}
	t.Logf("%d merge requests, %d answered 405 and retried", counter.merges.Load(), counter.refused.Load())
	if counter.refused.Load() == 0 {
		t.Fatalf("Gitea never answered 405 in %d rounds, so the wait was not exercised", rounds)
	}
}

func TestEnsureWebhook(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	want := forge.Webhook{URL: "http://127.0.0.1:1/webhooks/gitea", Secret: "s", Events: []string{"pull_request_comment"}}
	id, created, err := e.Client.EnsureWebhook(ctx, e.Repo, want)
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	want.Events = []string{"pull_request", "push"}
	id2, created, err := e.Client.EnsureWebhook(ctx, e.Repo, want)
	if err != nil || created || id2 != id {
		t.Fatalf("second: id=%d created=%v err=%v, want update of %d", id2, created, err, id)
	}
	hooks, _, err := e.Admin(t).ListRepoHooks(e.Repo.Owner, e.Repo.Name, gitea.ListHooksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].Config["content_type"] != "json" || !hooks[0].Active {
		t.Fatalf("hooks = %+v", hooks)
	}
	if !slices.Contains(hooks[0].Events, "push") {
		t.Fatalf("events %v, want updated to include push", hooks[0].Events)
	}
}

func TestProtectBranchesLetsOnlyTheBotPush(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	dev := e.User(t, "dev", "write")
	rule := forge.BranchRule{Pattern: "ensign/**", Pushers: []string{e.Bot.Name}}
	changed, err := e.Client.ProtectBranches(ctx, e.Repo, rule)
	if err != nil || !changed {
		t.Fatalf("first protect: changed=%v err=%v, want a new rule", changed, err)
	}
	if changed, err := e.Client.ProtectBranches(ctx, e.Repo, rule); err != nil || changed {
		t.Fatalf("second protect: changed=%v err=%v, want nothing to change", changed, err)
	}

	push := func(u harness.GiteaUser, branch string, force bool) error {
		dir := t.TempDir()
		git := func(args ...string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, "git", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
			return cmd.CombinedOutput()
		}
		if out, err := git("clone", "-q", e.G.GitURL(e.Repo.Owner, e.Repo.Name, u), "."); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		// The pusher's name keeps two users' commits apart: identical
		// commits made in the same second would make a refused force-push
		// a no-op that succeeds.
		if out, err := git("commit", "-q", "--allow-empty", "-m", "push by "+u.Name+" to "+branch); err != nil {
			t.Fatalf("commit: %v\n%s", err, out)
		}
		args := []string{"push", "-q", "origin", "HEAD:refs/heads/" + branch}
		if force {
			args = slices.Insert(args, 1, "--force")
		}
		if out, err := git(args...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := push(dev, "ensign/promote/podinfo/production/abc", false); err == nil {
		t.Fatal("a write user created a branch under ensign/; want Gitea to refuse it")
	}
	if err := push(dev, "feature/other", false); err != nil {
		t.Fatalf("a write user could not push an unprotected branch: %v", err)
	}
	if err := push(e.Bot, "ensign/promote/podinfo/production/abc", false); err != nil {
		t.Fatalf("the bot could not push its own branch: %v", err)
	}
	if err := push(dev, "ensign/promote/podinfo/production/abc", true); err == nil {
		t.Fatal("a write user force-pushed ensign's branch; want Gitea to refuse it")
	}
	if err := push(e.Bot, "ensign/promote/podinfo/production/abc", true); err != nil {
		t.Fatalf("the bot could not force-push its own branch: %v", err)
	}

	// A rule someone loosened is tightened again.
	api := e.Admin(t)
	if _, _, err := api.EditBranchProtection(e.Repo.Owner, e.Repo.Name, "ensign/**", gitea.EditBranchProtectionOption{PushWhitelistUsernames: []string{e.Bot.Name, dev.Name}}); err != nil {
		t.Fatalf("loosen the rule by hand: %v", err)
	}
	if changed, err := e.Client.ProtectBranches(ctx, e.Repo, rule); err != nil || !changed {
		t.Fatalf("protect after loosening: changed=%v err=%v, want the rule rewritten", changed, err)
	}
	if err := push(dev, "ensign/rollback/podinfo/production/abc", false); err == nil {
		t.Fatal("a write user pushed under ensign/ after the rule was rewritten")
	}

	// Without admin rights the bot gets a clear error, not a silent no-op.
	writer, err := forge.New(forge.Config{URL: e.G.URL, Token: dev.Token})
	if err != nil {
		t.Fatal(err)
	}
	var se *forge.StatusError
	if _, err := writer.ProtectBranches(ctx, e.Repo, forge.BranchRule{Pattern: "x/**", Pushers: []string{dev.Name}}); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("protect as a write user: %v, want a 403 StatusError", err)
	}
}

// UpdatePullRequest sets the title, the body and the labels in one call,
// and recreates a label deleted behind the cache's back.
func TestUpdatePullRequestWithLabels(t *testing.T) {
	e := forgetest.New(t)
	ctx := forgetest.Ctx(t)
	pr := e.OpenPR(t, "proposal", "a.yaml", "a: 1\n")
	promotion := forge.Label{Name: "promotion", Color: "#1d76db"}
	check := func(step, title, body string, labels ...string) {
		t.Helper()
		got, _, err := e.Admin(t).GetPullRequest(e.Repo.Owner, e.Repo.Name, pr.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != title || got.Body != body {
			t.Fatalf("%s: title %q body %q, want %q and %q", step, got.Title, got.Body, title, body)
		}
		if have := e.Labels(t, pr.Number); !slices.Equal(have, labels) {
			t.Fatalf("%s: labels %v, want %v", step, have, labels)
		}
	}
	if err := e.Client.UpdatePullRequest(ctx, e.Repo, pr.Number, "Promote a", "body 1", promotion); err != nil {
		t.Fatal(err)
	}
	check("with a label", "Promote a", "body 1", "promotion")
	if err := e.Client.UpdatePullRequest(ctx, e.Repo, pr.Number, "Promote a again", "body 2"); err != nil {
		t.Fatal(err)
	}
	check("without labels", "Promote a again", "body 2", "promotion")

	labels, _, err := e.Admin(t).ListRepoLabels(e.Repo.Owner, e.Repo.Name, gitea.ListLabelsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(labels, func(l *gitea.Label) bool { return l.Name == "promotion" })
	if i < 0 {
		t.Fatal("no repository label promotion")
	}
	if _, err := e.Admin(t).DeleteLabel(e.Repo.Owner, e.Repo.Name, labels[i].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.UpdatePullRequest(ctx, e.Repo, pr.Number, "Promote a", "body 3", promotion); err != nil {
		t.Fatal(err)
	}
	check("after the label was deleted", "Promote a", "body 3", "promotion")
}
