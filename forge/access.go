package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"code.gitea.io/sdk/gitea"
)

// RepoPermission returns user's permission on repo as Gitea names it (none,
// read, write, admin, owner), computed from collaborators, teams and site
// admin. The bot must be a repository admin (or site admin) to ask about
// others.
func (c *Client) RepoPermission(ctx context.Context, repo Repo, user string) (string, error) {
	var raw string
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		p, resp, err := api.CollaboratorPermission(repo.Owner, repo.Name, user)
		if err == nil {
			raw = string(p.Permission)
		}
		return resp, err
	})
	if err != nil {
		return "", fmt.Errorf("get permission of %s on %s: %w", user, repo, err)
	}
	return raw, nil
}

// TeamMember reports whether user is a member of team of organization org.
// The bot must be able to see the organization's teams (an org member) and
// the team's members (a member of the team, an org owner, or site admin).
// A team that does not exist is an error wrapping ErrNotFound.
func (c *Client) TeamMember(ctx context.Context, org, team, user string) (bool, error) {
	id, err := c.teamID(ctx, org, team)
	if err != nil {
		return false, fmt.Errorf("check membership of %s in team %s/%s: %w", user, org, team, err)
	}
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		_, resp, err := api.GetTeamMember(id, user)
		return resp, err
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check membership of %s in team %s/%s: %w", user, org, team, err)
	}
	return true, nil
}

func (c *Client) teamID(ctx context.Context, org, team string) (int64, error) {
	var id int64
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		ts, resp, err := api.ListOrgTeams(org, gitea.ListTeamsOptions{ListOptions: page})
		for _, t := range ts {
			if strings.EqualFold(t.Name, team) {
				id = t.ID
				return resp, errStopPaging
			}
		}
		return resp, err
	})
	if err != nil {
		return 0, fmt.Errorf("list teams of %s: %w", org, err)
	}
	if id == 0 {
		return 0, fmt.Errorf("team %s/%s: %w", org, team, ErrNotFound)
	}
	return id, nil
}
