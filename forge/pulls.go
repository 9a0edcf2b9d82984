package forge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/vocab"
)

// PullRequest is what ensign needs to know about a Gitea pull request.
type PullRequest struct {
	Number int64
	Title  string
	Body   string
	// State is "open" or "closed" (a merged pull request is closed).
	State  string
	Merged bool
	// MergeCommitSHA is set once Merged is true.
	MergeCommitSHA string
	HeadBranch     string
	HeadSHA        string
	BaseBranch     string
	// MergeBase is the merge base Gitea last recorded between the head
	// and the base branch. Its conflict check records it again after a
	// push to the head, and after a push to the base branch for pull
	// requests updated in the last week (DELAY_CHECK_FOR_INACTIVE_DAYS).
	MergeBase string
	// Labels holds label names.
	Labels []string
	// Mergeable is Gitea's own verdict; false while Gitea is still checking.
	Mergeable bool
	Author    string
	URL       string
	// AGit reports a pull request opened by a push to refs/for/ (Gitea's
	// AGit flow) rather than from a branch. HeadBranch is then
	// refs/pull/<Number>/head, which Gitea lets nobody push to: only the
	// author can move the head, by pushing the same topic again.
	AGit bool
}

// Open reports whether the pull request is open.
func (p PullRequest) Open() bool { return p.State == string(gitea.StateOpen) }

// HasLabel reports whether the pull request carries the named label.
func (p PullRequest) HasLabel(name string) bool {
	for _, l := range p.Labels {
		if l == name {
			return true
		}
	}
	return false
}

func toPullRequest(pr *gitea.PullRequest) PullRequest {
	out := PullRequest{
		Number:    pr.Index,
		Title:     pr.Title,
		Body:      pr.Body,
		State:     string(pr.State),
		Merged:    pr.HasMerged,
		Mergeable: pr.Mergeable,
		URL:       pr.HTMLURL,
		MergeBase: pr.MergeBase,
	}
	if pr.MergedCommitID != nil {
		out.MergeCommitSHA = *pr.MergedCommitID
	}
	if pr.Head != nil {
		out.HeadBranch, out.HeadSHA = pr.Head.Ref, pr.Head.Sha
		// Gitea leaves an AGit pull request's label empty; a branch pull
		// request whose branch is gone keeps its branch name there.
		out.AGit = pr.Head.Name == "" && pr.Head.Ref == fmt.Sprintf("refs/pull/%d/head", pr.Index)
	}
	if pr.Base != nil {
		out.BaseBranch = pr.Base.Ref
	}
	if pr.Poster != nil {
		out.Author = pr.Poster.UserName
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.Name)
	}
	return out
}

// GetPullRequest returns pull request number of repo.
func (c *Client) GetPullRequest(ctx context.Context, repo Repo, number int64) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		pr, resp, err := api.GetPullRequest(repo.Owner, repo.Name, number)
		if err == nil {
			out = toPullRequest(pr)
		}
		return resp, err
	})
	if err != nil {
		return PullRequest{}, fmt.Errorf("get pull request %s#%d: %w", repo, number, err)
	}
	return out, nil
}

// ListOpenPullRequests returns the open pull requests of repo that carry
// label, or all open ones when label is empty, oldest first.
func (c *Client) ListOpenPullRequests(ctx context.Context, repo Repo, label string) ([]PullRequest, error) {
	var out []PullRequest
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		prs, resp, err := api.ListRepoPullRequests(repo.Owner, repo.Name, gitea.ListPullRequestsOptions{
			ListOptions: page, State: gitea.StateOpen, Sort: "oldest",
		})
		for _, pr := range prs {
			if p := toPullRequest(pr); label == "" || p.HasLabel(label) {
				out = append(out, p)
			}
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list open pull requests of %s: %w", repo, err)
	}
	return out, nil
}

// NewPullRequest describes the pull request EnsurePullRequest should find or
// open.
type NewPullRequest struct {
	// Head is the source branch in the same repository.
	Head string
	// Base is the target branch.
	Base  string
	Title string
	Body  string
}

// EnsurePullRequest adopts the open pull request from want.Head into
// want.Base if there is one, bringing its title and body up to date, and
// otherwise opens it. created reports whether a new pull request was opened.
func (c *Client) EnsurePullRequest(ctx context.Context, repo Repo, want NewPullRequest) (pr PullRequest, created bool, err error) {
	if want.Head == "" || want.Base == "" || want.Title == "" {
		return PullRequest{}, false, fmt.Errorf("ensure pull request in %s: head, base and title are required", repo)
	}
	pr, found, err := c.findOpenByHead(ctx, repo, want.Head, want.Base)
	if err != nil {
		return PullRequest{}, false, err
	}
	if !found {
		pr, err = c.createPullRequest(ctx, repo, want)
		if err == nil {
			return pr, true, nil
		}
		// Someone (maybe our previous life) opened it in between: adopt it.
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 409 {
			return PullRequest{}, false, err
		}
		if pr, found, err = c.findOpenByHead(ctx, repo, want.Head, want.Base); err != nil {
			return PullRequest{}, false, err
		}
		if !found {
			return PullRequest{}, false, fmt.Errorf("open pull request %s -> %s in %s: gitea reported a conflict but no open pull request exists", want.Head, want.Base, repo)
		}
	}
	if pr.Title != want.Title || pr.Body != want.Body {
		if err := c.UpdatePullRequest(ctx, repo, pr.Number, want.Title, want.Body); err != nil {
			return PullRequest{}, false, err
		}
		pr.Title, pr.Body = want.Title, want.Body
	}
	return pr, false, nil
}

func (c *Client) findOpenByHead(ctx context.Context, repo Repo, head, base string) (PullRequest, bool, error) {
	open, err := c.ListOpenPullRequests(ctx, repo, "")
	if err != nil {
		return PullRequest{}, false, fmt.Errorf("find pull request from %s: %w", head, err)
	}
	for _, pr := range open {
		if pr.HeadBranch == head && pr.BaseBranch == base {
			return pr, true, nil
		}
	}
	return PullRequest{}, false, nil
}

func (c *Client) createPullRequest(ctx context.Context, repo Repo, want NewPullRequest) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		pr, resp, err := api.CreatePullRequest(repo.Owner, repo.Name, gitea.CreatePullRequestOption{
			Head: want.Head, Base: want.Base, Title: want.Title, Body: want.Body,
		})
		if err == nil {
			out = toPullRequest(pr)
		}
		return resp, err
	})
	if err != nil {
		return PullRequest{}, fmt.Errorf("open pull request %s -> %s in %s: %w", want.Head, want.Base, repo, err)
	}
	return out, nil
}

// maxPushOption bounds an encoded push option: git carries each in one
// packet line of at most 65,516 bytes.
const maxPushOption = 32 << 10

// ProposalOptions are the push options that give the pull request a push
// to refs/for/ opens (gitops.Propose, Gitea's AGit flow) its title and body,
// and let a later push of the same topic replace its head (force-push).
// Gitea reads a value that starts with "{base64}" as base64, which carries
// newlines. A body too long for a push option is left out: Gitea then takes
// the commit message's body, and the caller sets the body through the API.
func ProposalOptions(title, body string) []string {
	opts := []string{"force-push=true", "title=" + pushOptionValue(title)}
	if v := pushOptionValue(body); len(v) <= maxPushOption {
		opts = append(opts, "description="+v)
	}
	return opts
}

// pushOptionValue is s as Gitea's AGit flow reads it back.
func pushOptionValue(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") || strings.HasPrefix(s, "{base64}") {
		return "{base64}" + base64.StdEncoding.EncodeToString([]byte(s))
	}
	return s
}

// UpdatePullRequest sets the title and body of a pull request (an empty
// title leaves the title unchanged) and, when labels are given, sets its
// labels to exactly those, creating any the repository lacks, in the same
// call. Labels replace what the pull request had: give them only for one
// that has none, such as a proposal just opened.
func (c *Client) UpdatePullRequest(ctx context.Context, repo Repo, number int64, title, body string, labels ...Label) error {
	err := c.applyLabels(ctx, repo, labels, func(ids []int64) ([]*gitea.Label, error) {
		var got *gitea.PullRequest
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			pr, resp, err := api.EditPullRequest(repo.Owner, repo.Name, number, gitea.EditPullRequestOption{
				Title: title, Body: &body, Labels: ids,
			})
			got = pr
			return resp, err
		})
		if err != nil || got == nil {
			return nil, err
		}
		return got.Labels, nil
	})
	if err != nil {
		return fmt.Errorf("update pull request %s#%d: %w", repo, number, err)
	}
	return nil
}

// ClosePullRequest closes an open pull request that another one supersedes,
// first leaving (or updating) the bot's closing comment with text. Closing an
// already closed pull request only makes sure the comment is there.
func (c *Client) ClosePullRequest(ctx context.Context, repo Repo, number int64, text string) error {
	if text != "" {
		if _, _, err := c.UpsertComment(ctx, repo, number, vocab.CloseMarker, text); err != nil {
			return fmt.Errorf("close pull request %s#%d: %w", repo, number, err)
		}
	}
	pr, err := c.GetPullRequest(ctx, repo, number)
	if err != nil {
		return fmt.Errorf("close pull request: %w", err)
	}
	if !pr.Open() {
		return nil
	}
	closed := gitea.StateClosed
	err = c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		_, resp, err := api.EditPullRequest(repo.Owner, repo.Name, number, gitea.EditPullRequestOption{State: &closed})
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("close pull request %s#%d: %w", repo, number, err)
	}
	return nil
}

// PullRequestFiles lists the paths a pull request changes (for a rename,
// both the old and the new path).
func (c *Client) PullRequestFiles(ctx context.Context, repo Repo, number int64) ([]string, error) {
	var out []string
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		fs, resp, err := api.ListPullRequestFiles(repo.Owner, repo.Name, number, gitea.ListPullRequestFilesOptions{ListOptions: page})
		for _, f := range fs {
			out = append(out, f.Filename)
			if f.PreviousFilename != "" && f.PreviousFilename != f.Filename {
				out = append(out, f.PreviousFilename)
			}
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list the files of %s#%d: %w", repo, number, err)
	}
	return out, nil
}
