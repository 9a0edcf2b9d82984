package forge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/internal/keyed"
)

// Label describes a repository label ensign creates when it is missing.
type Label struct {
	Name string
	// Color is "#rrggbb"; empty means a neutral grey.
	Color       string
	Description string
}

// labelCache maps repository and label name to Gitea's label ID. Lookups of
// one repository are serialized so a missing label is created only once per
// process.
type labelCache struct {
	mu  sync.Mutex
	ids map[Repo]map[string]int64
	per keyed.Mutex
}

func (l *labelCache) get(repo Repo, name string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.ids[repo][name]
	return id, ok
}

func (l *labelCache) replace(repo Repo, names map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = make(map[Repo]map[string]int64)
	}
	l.ids[repo] = names
}

func (l *labelCache) forget(repo Repo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, repo)
}

// EnsureLabel returns the ID of the repository label named want.Name,
// creating it if the repository has none. IDs are cached per repository.
func (c *Client) EnsureLabel(ctx context.Context, repo Repo, want Label) (int64, error) {
	if want.Name == "" {
		return 0, fmt.Errorf("ensure label in %s: empty label name", repo)
	}
	if id, ok := c.labels.get(repo, want.Name); ok {
		return id, nil
	}
	unlock := c.labels.per.Lock(repo.String())
	defer unlock()
	if id, ok := c.labels.get(repo, want.Name); ok {
		return id, nil
	}
	names, err := c.listRepoLabels(ctx, repo)
	if err != nil {
		return 0, fmt.Errorf("ensure label %q in %s: %w", want.Name, repo, err)
	}
	if id, ok := names[want.Name]; ok {
		c.labels.replace(repo, names)
		return id, nil
	}
	color := want.Color
	if color == "" {
		color = "#cccccc"
	}
	var id int64
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		l, resp, err := api.CreateLabel(repo.Owner, repo.Name, gitea.CreateLabelOption{
			Name: want.Name, Color: color, Description: want.Description,
		})
		if err == nil {
			id = l.ID
		}
		return resp, err
	})
	if err != nil {
		return 0, fmt.Errorf("create label %q in %s: %w", want.Name, repo, err)
	}
	names[want.Name] = id
	c.labels.replace(repo, names)
	return id, nil
}

func (c *Client) listRepoLabels(ctx context.Context, repo Repo) (map[string]int64, error) {
	names := make(map[string]int64)
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		ls, resp, err := api.ListRepoLabels(repo.Owner, repo.Name, gitea.ListLabelsOptions{ListOptions: page})
		for _, l := range ls {
			if _, dup := names[l.Name]; !dup {
				names[l.Name] = l.ID
			}
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list labels: %w", err)
	}
	return names, nil
}

// issueLabels returns the pull request's labels by name.
func (c *Client) issueLabels(ctx context.Context, repo Repo, number int64) (map[string]int64, error) {
	names := make(map[string]int64)
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		ls, resp, err := api.GetIssueLabels(repo.Owner, repo.Name, number, gitea.ListLabelsOptions{})
		for _, l := range ls {
			names[l.Name] = l.ID
		}
		return resp, err
	})
	return names, err
}

// AddLabel puts the named label on a pull request (or issue), creating the
// repository label from want if it does not exist. added is false when the
// label was already there.
func (c *Client) AddLabel(ctx context.Context, repo Repo, number int64, want Label) (added bool, err error) {
	have, err := c.issueLabels(ctx, repo, number)
	if err != nil {
		return false, fmt.Errorf("add label %q to %s#%d: %w", want.Name, repo, number, err)
	}
	if _, ok := have[want.Name]; ok {
		return false, nil
	}
	err = c.applyLabels(ctx, repo, []Label{want}, func(ids []int64) ([]*gitea.Label, error) {
		var now []*gitea.Label
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			ls, resp, err := api.AddIssueLabels(repo.Owner, repo.Name, number, gitea.IssueLabelsOption{Labels: ids})
			now = ls
			return resp, err
		})
		return now, err
	})
	if err != nil {
		return false, fmt.Errorf("add label %q to %s#%d: %w", want.Name, repo, number, err)
	}
	return true, nil
}

// applyLabels calls apply with the IDs of labels (each created if the
// repository lacks it) and checks that the labels apply answers with
// include them all. A cached ID may point at a label deleted since, which
// Gitea ignores silently: the cache is then dropped and apply runs once
// more with fresh IDs.
func (c *Client) applyLabels(ctx context.Context, repo Repo, labels []Label, apply func(ids []int64) ([]*gitea.Label, error)) error {
	for attempt := 0; attempt < 2; attempt++ {
		var ids []int64
		for _, l := range labels {
			id, err := c.EnsureLabel(ctx, repo, l)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		have, err := apply(ids)
		if err != nil {
			return err
		}
		if hasLabels(have, labels) {
			return nil
		}
		c.labels.forget(repo)
	}
	return errors.New("gitea did not apply the labels")
}

// hasLabels reports whether have holds every label of want, by name.
func hasLabels(have []*gitea.Label, want []Label) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(l *gitea.Label) bool { return l.Name == w.Name }) {
			return false
		}
	}
	return true
}

// RemoveLabel takes the named label off a pull request (or issue). removed is
// false when it was not there.
func (c *Client) RemoveLabel(ctx context.Context, repo Repo, number int64, name string) (removed bool, err error) {
	have, err := c.issueLabels(ctx, repo, number)
	if err != nil {
		return false, fmt.Errorf("remove label %q from %s#%d: %w", name, repo, number, err)
	}
	id, ok := have[name]
	if !ok {
		return false, nil
	}
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		return api.DeleteIssueLabel(repo.Owner, repo.Name, number, id)
	})
	if err != nil {
		return false, fmt.Errorf("remove label %q from %s#%d: %w", name, repo, number, err)
	}
	return true, nil
}
