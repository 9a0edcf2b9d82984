package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/policy"
)

// RepoPermission returns user's permission on repo (none, read, write, admin,
// owner) as Gitea computes it from collaborators, teams and site admin.
// The bot must be a repository admin (or site admin) to ask about others.
func (c *Client) RepoPermission(ctx context.Context, repo Repo, user string) (policy.Level, error) {
	var raw string
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		p, resp, err := api.CollaboratorPermission(repo.Owner, repo.Name, user)
		if err == nil {
			raw = string(p.Permission)
		}
		return resp, err
	})
	if err != nil {
		return policy.LevelNone, fmt.Errorf("get permission of %s on %s: %w", user, repo, err)
	}
	level, err := policy.ParseLevel(raw)
	if err != nil {
		return policy.LevelNone, fmt.Errorf("get permission of %s on %s: %w", user, repo, err)
	}
	return level, nil
}

// TeamMember reports whether user is a member of the organization team.
// The bot must be able to see the organization's teams (an org member) and
// the team's members (a member of the team, an org owner, or site admin).
// A team that does not exist is an error wrapping ErrNotFound.
func (c *Client) TeamMember(ctx context.Context, team policy.TeamRef, user string) (bool, error) {
	id, err := c.teamID(ctx, team)
	if err != nil {
		return false, fmt.Errorf("check membership of %s in team %s: %w", user, team, err)
	}
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		_, resp, err := api.GetTeamMember(id, user)
		return resp, err
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check membership of %s in team %s: %w", user, team, err)
	}
	return true, nil
}

func (c *Client) teamID(ctx context.Context, team policy.TeamRef) (int64, error) {
	for page := 1; page <= maxPages; {
		var next int
		var id int64
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			ts, resp, err := api.ListOrgTeams(team.Org, gitea.ListTeamsOptions{
				ListOptions: gitea.ListOptions{Page: page, PageSize: pageSize},
			})
			if err != nil {
				return resp, err
			}
			for _, t := range ts {
				if strings.EqualFold(t.Name, team.Team) {
					id = t.ID
					break
				}
			}
			next = resp.NextPage
			return resp, nil
		})
		if err != nil {
			return 0, fmt.Errorf("list teams of %s: %w", team.Org, err)
		}
		if id != 0 {
			return id, nil
		}
		if next <= page {
			break
		}
		page = next
	}
	return 0, fmt.Errorf("team %s: %w", team, ErrNotFound)
}
