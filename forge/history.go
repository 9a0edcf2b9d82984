package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"code.gitea.io/sdk/gitea"
)

// ListClosedPullRequests returns up to limit closed pull requests of repo
// (merged or not) that carry label, most recently updated first.
func (c *Client) ListClosedPullRequests(ctx context.Context, repo Repo, label string, limit int) ([]PullRequest, error) {
	var out []PullRequest
	if limit <= 0 {
		return nil, nil
	}
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		prs, resp, err := api.ListRepoPullRequests(repo.Owner, repo.Name, gitea.ListPullRequestsOptions{
			ListOptions: page, State: gitea.StateClosed, Sort: "recentupdate",
		})
		for _, pr := range prs {
			if p := toPullRequest(pr); (label == "" || p.HasLabel(label)) && len(out) < limit {
				out = append(out, p)
			}
		}
		if err == nil && len(out) >= limit {
			err = errStopPaging
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list closed pull requests of %s: %w", repo, err)
	}
	return out, nil
}

// PullRequestForCommit returns the pull request that brought commit sha into
// its base branch (as Gitea records it for merge, squash and rebase merges);
// found is false when there is none.
func (c *Client) PullRequestForCommit(ctx context.Context, repo Repo, sha string) (pr PullRequest, found bool, err error) {
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		p, resp, err := api.GetCommitPullRequest(repo.Owner, repo.Name, sha)
		if err == nil {
			pr = toPullRequest(p)
		}
		return resp, err
	})
	if errors.Is(err, ErrNotFound) {
		return PullRequest{}, false, nil
	}
	if err != nil {
		return PullRequest{}, false, fmt.Errorf("find the pull request of commit %s in %s: %w", sha, repo, err)
	}
	return pr, true, nil
}

// EnsureIssue opens an issue whose body starts with marker, unless an open
// issue the bot opened already has it (an issue someone else opened with the
// marker does not count); it returns the issue's number.
func (c *Client) EnsureIssue(ctx context.Context, repo Repo, marker, title, body string) (int64, error) {
	if err := checkMarker(marker); err != nil {
		return 0, err
	}
	unlock := c.locks.Lock(repo.String() + " issue " + marker)
	defer unlock()
	self, err := c.Self(ctx)
	if err != nil {
		return 0, fmt.Errorf("look for issue %q in %s: %w", title, repo, err)
	}
	var number int64
	err = c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		issues, resp, err := api.ListRepoIssues(repo.Owner, repo.Name, gitea.ListIssueOption{
			ListOptions: page, State: gitea.StateOpen, Type: gitea.IssueTypeIssue,
		})
		for _, is := range issues {
			if is.Poster != nil && strings.EqualFold(is.Poster.UserName, self) && strings.HasPrefix(is.Body, marker) {
				number = is.Index
				return resp, errStopPaging
			}
		}
		return resp, err
	})
	if err != nil {
		return 0, fmt.Errorf("look for issue %q in %s: %w", title, repo, err)
	}
	if number != 0 {
		return number, nil
	}
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		is, resp, err := api.CreateIssue(repo.Owner, repo.Name, gitea.CreateIssueOption{Title: title, Body: marker + "\n" + body})
		if err == nil {
			number = is.Index
		}
		return resp, err
	})
	if err != nil {
		return 0, fmt.Errorf("open issue %q in %s: %w", title, repo, err)
	}
	return number, nil
}
