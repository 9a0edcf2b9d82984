package harness

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"
)

// GiteaUser is a user the harness created, with a password and an all-scope token.
type GiteaUser struct {
	Name     string
	Password string
	Token    string
}

// Client returns an SDK client acting with token, bound to ctx. Each call
// site should make its own: the SDK keeps one context per client.
func (g *GiteaServer) Client(ctx context.Context, token string) (*gitea.Client, error) {
	c, err := gitea.NewClient(strings.TrimSuffix(g.URL, "/"), gitea.SetToken(token),
		gitea.SetContext(ctx), gitea.SetGiteaVersion(strings.TrimPrefix(GiteaVersion, "v")))
	if err != nil {
		return nil, fmt.Errorf("gitea client: %w", err)
	}
	return c, nil
}

func (g *GiteaServer) admin(ctx context.Context) (*gitea.Client, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := g.Client(ctx, g.AdminToken)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return c, cancel, nil
}

// CreateUser creates a user with a random password and an all-scope token.
func (g *GiteaServer) CreateUser(ctx context.Context, name string) (GiteaUser, error) {
	c, cancel, err := g.admin(ctx)
	if err != nil {
		return GiteaUser{}, err
	}
	defer cancel()
	u := GiteaUser{Name: name, Password: randomHex(10)}
	no := false
	if _, _, err := c.AdminCreateUser(gitea.CreateUserOption{
		Username: name, Email: name + "@example.com", Password: u.Password, MustChangePassword: &no,
	}); err != nil {
		return GiteaUser{}, fmt.Errorf("create gitea user %s: %w", name, err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	defer tcancel()
	uc, err := gitea.NewClient(strings.TrimSuffix(g.URL, "/"), gitea.SetBasicAuth(name, u.Password),
		gitea.SetContext(tctx), gitea.SetGiteaVersion(strings.TrimPrefix(GiteaVersion, "v")))
	if err != nil {
		return GiteaUser{}, err
	}
	tok, _, err := uc.CreateAccessToken(gitea.CreateAccessTokenOption{
		Name: "harness", Scopes: []gitea.AccessTokenScope{gitea.AccessTokenScopeAll},
	})
	if err != nil {
		return GiteaUser{}, fmt.Errorf("create token for gitea user %s: %w", name, err)
	}
	u.Token = tok.Token
	return u, nil
}

// CreateOrg creates an organization owned by the admin.
func (g *GiteaServer) CreateOrg(ctx context.Context, name string) error {
	c, cancel, err := g.admin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, _, err := c.CreateOrg(gitea.CreateOrgOption{Name: name, Visibility: gitea.VisibleTypePublic}); err != nil {
		return fmt.Errorf("create gitea org %s: %w", name, err)
	}
	return nil
}

// CreateRepo creates owner/name (owner is an org, or the admin itself) with
// an initial commit on main, and returns its clone URL.
func (g *GiteaServer) CreateRepo(ctx context.Context, owner, name string) (string, error) {
	c, cancel, err := g.admin(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	opt := gitea.CreateRepoOption{Name: name, AutoInit: true, DefaultBranch: "main", Readme: "Default"}
	var repo *gitea.Repository
	if owner == g.AdminUser {
		repo, _, err = c.CreateRepo(opt)
	} else {
		repo, _, err = c.CreateOrgRepo(owner, opt)
	}
	if err != nil {
		return "", fmt.Errorf("create gitea repo %s/%s: %w", owner, name, err)
	}
	return repo.CloneURL, nil
}

// AddCollaborator gives user access to owner/repo at permission "read",
// "write" or "admin".
func (g *GiteaServer) AddCollaborator(ctx context.Context, owner, repo, user, permission string) error {
	c, cancel, err := g.admin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	p := gitea.AccessMode(permission)
	if _, err := c.AddCollaborator(owner, repo, user, gitea.AddCollaboratorOption{Permission: &p}); err != nil {
		return fmt.Errorf("add %s as %s collaborator on %s/%s: %w", user, permission, owner, repo, err)
	}
	return nil
}

// CreateTeam creates a team in org with the given permission on the org's
// repositories and adds members to it.
func (g *GiteaServer) CreateTeam(ctx context.Context, org, team, permission string, members ...string) error {
	c, cancel, err := g.admin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	t, _, err := c.CreateTeam(org, gitea.CreateTeamOption{
		Name: team, Permission: gitea.AccessMode(permission), IncludesAllRepositories: true,
		Units: []gitea.RepoUnitType{gitea.RepoUnitCode, gitea.RepoUnitIssues, gitea.RepoUnitPulls},
	})
	if err != nil {
		return fmt.Errorf("create team %s/%s: %w", org, team, err)
	}
	for _, m := range members {
		if _, err := c.AddTeamMember(t.ID, m); err != nil {
			return fmt.Errorf("add %s to team %s/%s: %w", m, org, team, err)
		}
	}
	return nil
}

// GitURL returns the HTTP clone URL of owner/repo with credentials embedded,
// for the git CLI in tests and the demo.
func (g *GiteaServer) GitURL(owner, repo string, user GiteaUser) string {
	u, _ := url.Parse(g.URL)
	u.User = url.UserPassword(user.Name, user.Token)
	u.Path = "/" + owner + "/" + repo + ".git"
	return u.String()
}
