// Package forgetest sets up fixtures on the harness's real Gitea for tests of
// ensign's Gitea-facing code: a fresh organization and repository, a bot
// account with a forge.Client, users at chosen permission levels, branches
// with commits, pull requests and comments. Assertions should read through
// SDK, not through the forge.Client under test.
//
// Every Env uses uniquely named users and organizations, so tests sharing one
// Gitea server do not see each other's objects. Nothing is cleaned up: the
// harness throws the whole server away.
package forgetest

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
)

// Env is one test's corner of the shared Gitea.
type Env struct {
	G *harness.GiteaServer
	// Org owns Repo.
	Org  string
	Repo forge.Repo
	// Bot is ensign's account: an admin collaborator on Repo. Its Token has
	// only forge.TokenScopes.
	Bot harness.GiteaUser
	// Client is a forge.Client acting as Bot.
	Client *forge.Client
}

// New creates an organization, a repository with an initial commit on main,
// and a bot user with admin permission on it. It skips the test when the
// harness binaries are missing (see harness.Gitea).
func New(t testing.TB) *Env {
	t.Helper()
	g := harness.Gitea(t)
	ctx := Ctx(t)
	e := &Env{G: g, Org: harness.UniqueName("acme")}
	if err := g.CreateOrg(ctx, e.Org); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateRepo(ctx, e.Org, "gitops"); err != nil {
		t.Fatal(err)
	}
	e.Repo = forge.Repo{Owner: e.Org, Name: "gitops"}
	e.Bot = e.User(t, "ensign", "admin")
	e.Bot.Token = scopedToken(t, g, e.Bot, forge.TokenScopes)
	c, err := forge.New(forge.Config{URL: g.URL, Token: e.Bot.Token, MergeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.Client = c
	return e
}

// scopedToken makes a token for u limited to scopes, so tests prove those
// scopes are enough.
func scopedToken(t testing.TB, g *harness.GiteaServer, u harness.GiteaUser, scopes []string) string {
	t.Helper()
	c, err := gitea.NewClient(strings.TrimSuffix(g.URL, "/"), gitea.SetBasicAuth(u.Name, u.Password),
		gitea.SetContext(Ctx(t)), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	opt := gitea.CreateAccessTokenOption{Name: "ensign-scoped"}
	for _, s := range scopes {
		opt.Scopes = append(opt.Scopes, gitea.AccessTokenScope(s))
	}
	tok, _, err := c.CreateAccessToken(opt)
	if err != nil {
		t.Fatalf("create scoped token for %s: %v", u.Name, err)
	}
	return tok.Token
}

// Ctx returns a context that ends with the test or after two minutes.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// User creates a user named prefix plus a unique number with permission
// ("read", "write", "admin", or "" for none) on the repository.
func (e *Env) User(t testing.TB, prefix, permission string) harness.GiteaUser {
	t.Helper()
	ctx := Ctx(t)
	u, err := e.G.CreateUser(ctx, harness.UniqueName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if permission != "" {
		if err := e.G.AddCollaborator(ctx, e.Repo.Owner, e.Repo.Name, u.Name, permission); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// SDK returns an SDK client acting with token, for setup and assertions.
func (e *Env) SDK(t testing.TB, token string) *gitea.Client {
	t.Helper()
	c, err := e.G.Client(Ctx(t), token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Admin returns an SDK client acting as the site admin.
func (e *Env) Admin(t testing.TB) *gitea.Client { return e.SDK(t, e.G.AdminToken) }

// CommitFile commits path with content on branch as the site admin,
// creating branch from main first when it does not exist, and returns the
// new commit's SHA.
func (e *Env) CommitFile(t testing.TB, branch, path, content string) string {
	t.Helper()
	opt := gitea.FileOptions{Message: "change " + path, BranchName: branch}
	if _, _, err := e.Admin(t).GetRepoBranch(e.Repo.Owner, e.Repo.Name, branch); err != nil {
		opt.BranchName, opt.NewBranchName = "main", branch
	}
	content64 := base64.StdEncoding.EncodeToString([]byte(content))
	api := e.Admin(t)
	var sha string
	if cur, _, err := api.GetContents(e.Repo.Owner, e.Repo.Name, branch, path); err == nil && opt.NewBranchName == "" {
		r, _, err := api.UpdateFile(e.Repo.Owner, e.Repo.Name, path, gitea.UpdateFileOptions{FileOptions: opt, SHA: cur.SHA, Content: content64})
		if err != nil {
			t.Fatalf("update %s on %s: %v", path, branch, err)
		}
		sha = r.Commit.SHA
	} else {
		r, _, err := api.CreateFile(e.Repo.Owner, e.Repo.Name, path, gitea.CreateFileOptions{FileOptions: opt, Content: content64})
		if err != nil {
			t.Fatalf("create %s on %s: %v", path, branch, err)
		}
		sha = r.Commit.SHA
	}
	return sha
}

// OpenPR commits path=content on a new branch and opens a pull request from
// it into main through the bot's forge.Client.
func (e *Env) OpenPR(t testing.TB, branch, path, content string) forge.PullRequest {
	t.Helper()
	e.CommitFile(t, branch, path, content)
	pr, created, err := e.Client.EnsurePullRequest(Ctx(t), e.Repo, forge.NewPullRequest{
		Head: branch, Base: "main", Title: "Change " + path, Body: "Test pull request for " + path,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("pull request from %s was adopted, want a new one", branch)
	}
	return pr
}

// Comment posts body on issue or pull request number as user and returns
// the comment's ID.
func (e *Env) Comment(t testing.TB, user harness.GiteaUser, number int64, body string) int64 {
	t.Helper()
	c, _, err := e.SDK(t, user.Token).CreateIssueComment(e.Repo.Owner, e.Repo.Name, number, gitea.CreateIssueCommentOption{Body: body})
	if err != nil {
		t.Fatalf("comment as %s on #%d: %v", user.Name, number, err)
	}
	return c.ID
}

// Labels returns the label names on issue or pull request number, read with
// the admin's SDK client.
func (e *Env) Labels(t testing.TB, number int64) []string {
	t.Helper()
	ls, _, err := e.Admin(t).GetIssueLabels(e.Repo.Owner, e.Repo.Name, number, gitea.ListLabelsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range ls {
		names = append(names, l.Name)
	}
	return names
}

// Comments returns the comments on number written by login, oldest first,
// read with the admin's SDK client.
func (e *Env) Comments(t testing.TB, number int64, login string) []*gitea.Comment {
	t.Helper()
	cs, _, err := e.Admin(t).ListIssueComments(e.Repo.Owner, e.Repo.Name, number, gitea.ListIssueCommentOptions{
		ListOptions: gitea.ListOptions{PageSize: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []*gitea.Comment
	for _, c := range cs {
		if c.Poster != nil && strings.EqualFold(c.Poster.UserName, login) {
			out = append(out, c)
		}
	}
	return out
}

// Eventually polls cond every 100ms until it returns true, failing the test
// with cond's last message after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AddOwner makes user an owner of the test organization (a member of its
// Owners team), as ensign's account must be to see team members.
func (e *Env) AddOwner(t testing.TB, user string) {
	t.Helper()
	teams, _, err := e.Admin(t).ListOrgTeams(e.Org, gitea.ListTeamsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		if tm.Name == "Owners" {
			if _, err := e.Admin(t).AddTeamMember(tm.ID, user); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("org has no Owners team")
}
