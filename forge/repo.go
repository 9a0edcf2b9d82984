package forge

import (
	"context"
	"fmt"

	"code.gitea.io/sdk/gitea"
)

// BranchHead returns the commit SHA at the tip of a branch.
func (c *Client) BranchHead(ctx context.Context, repo Repo, branch string) (string, error) {
	var sha string
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		b, resp, err := api.GetRepoBranch(repo.Owner, repo.Name, branch)
		if err == nil && b.Commit != nil {
			sha = b.Commit.ID
		}
		return resp, err
	})
	if err != nil {
		return "", fmt.Errorf("get branch %s of %s: %w", branch, repo, err)
	}
	if sha == "" {
		return "", fmt.Errorf("get branch %s of %s: gitea returned no commit", branch, repo)
	}
	return sha, nil
}

// GetFile returns the raw content of path at ref (a branch, tag or commit;
// empty means the repository's default branch). A missing file is an error
// wrapping ErrNotFound.
func (c *Client) GetFile(ctx context.Context, repo Repo, ref, path string) ([]byte, error) {
	if ref == "" {
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			r, resp, err := api.GetRepo(repo.Owner, repo.Name)
			if err == nil {
				ref = r.DefaultBranch
			}
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("get %s in %s: find default branch: %w", path, repo, err)
		}
	}
	var data []byte
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		d, resp, err := api.GetFile(repo.Owner, repo.Name, ref, path)
		data = d
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s at %s in %s: %w", path, ref, repo, err)
	}
	return data, nil
}

// Webhook describes the repository webhook EnsureWebhook keeps in place.
type Webhook struct {
	// URL is where Gitea delivers, e.g. https://ensign.example.com/webhooks/gitea.
	URL string
	// Secret signs every delivery (X-Gitea-Signature). Never logged.
	Secret string
	// Events are Gitea hook event names, e.g. "pull_request_comment",
	// "pull_request", "push".
	Events []string
}

// EnsureWebhook makes repo deliver want.Events as JSON to want.URL signed
// with want.Secret: it updates the hook with that URL if there is one
// (Gitea never returns the secret, so it is always rewritten) or creates it.
// It returns the hook ID and whether it was created.
func (c *Client) EnsureWebhook(ctx context.Context, repo Repo, want Webhook) (int64, bool, error) {
	if want.URL == "" || want.Secret == "" || len(want.Events) == 0 {
		return 0, false, fmt.Errorf("ensure webhook on %s: url, secret and events are required", repo)
	}
	var existing int64
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		hooks, resp, err := api.ListRepoHooks(repo.Owner, repo.Name, gitea.ListHooksOptions{
			ListOptions: gitea.ListOptions{PageSize: pageSize},
		})
		for _, h := range hooks {
			if h.Config["url"] == want.URL {
				existing = h.ID
				break
			}
		}
		return resp, err
	})
	if err != nil {
		return 0, false, fmt.Errorf("ensure webhook on %s: list hooks: %w", repo, err)
	}
	config := map[string]string{"url": want.URL, "content_type": "json", "secret": want.Secret}
	if existing != 0 {
		active := true
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			return api.EditRepoHook(repo.Owner, repo.Name, existing, gitea.EditHookOption{
				Config: config, Events: want.Events, Active: &active,
			})
		})
		if err != nil {
			return 0, false, fmt.Errorf("ensure webhook on %s: update hook %d: %w", repo, existing, err)
		}
		return existing, false, nil
	}
	var id int64
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		h, resp, err := api.CreateRepoHook(repo.Owner, repo.Name, gitea.CreateHookOption{
			Type: gitea.HookTypeGitea, Config: config, Events: want.Events, Active: true,
		})
		if err == nil {
			id = h.ID
		}
		return resp, err
	})
	if err != nil {
		return 0, false, fmt.Errorf("ensure webhook on %s: create hook: %w", repo, err)
	}
	return id, true, nil
}
