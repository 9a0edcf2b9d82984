package forge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/vocab"
)

// Comment is a comment on a pull request or issue.
type Comment struct {
	ID     int64
	Author string
	// Body is the comment text; for the bot's marker-keyed comments it is the
	// text after the marker line.
	Body string
	URL  string
	// Created is when the comment was written.
	Created time.Time
}

func checkMarker(marker string) error {
	if !vocab.ValidMarker(marker) {
		return fmt.Errorf("invalid comment marker %q (want <!-- ensign:name -->)", marker)
	}
	return nil
}

// markedText returns the text after marker if body is keyed by it.
func markedText(body, marker string) (string, bool) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if body == marker {
		return "", true
	}
	if rest, ok := strings.CutPrefix(body, marker+"\n"); ok {
		return rest, true
	}
	return "", false
}

// ListComments returns the comments on a pull request or issue, oldest first.
func (c *Client) ListComments(ctx context.Context, repo Repo, number int64) ([]Comment, error) {
	var out []Comment
	err := c.pages(ctx, func(api *gitea.Client, page gitea.ListOptions) (*gitea.Response, error) {
		cs, resp, err := api.ListIssueComments(repo.Owner, repo.Name, number, gitea.ListIssueCommentOptions{ListOptions: page})
		for _, cm := range cs {
			out = append(out, toComment(cm))
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list comments of %s#%d: %w", repo, number, err)
	}
	return out, nil
}

func toComment(cm *gitea.Comment) Comment {
	out := Comment{ID: cm.ID, Body: cm.Body, URL: cm.HTMLURL, Created: cm.Created}
	if cm.Poster != nil {
		out.Author = cm.Poster.UserName
	}
	return out
}

// FindComment returns the bot's comment keyed by marker, with Body holding
// the text after the marker line.
func (c *Client) FindComment(ctx context.Context, repo Repo, number int64, marker string) (Comment, bool, error) {
	if err := checkMarker(marker); err != nil {
		return Comment{}, false, err
	}
	self, err := c.Self(ctx)
	if err != nil {
		return Comment{}, false, fmt.Errorf("find bot comment on %s#%d: %w", repo, number, err)
	}
	all, err := c.ListComments(ctx, repo, number)
	if err != nil {
		return Comment{}, false, fmt.Errorf("find bot comment: %w", err)
	}
	for _, cm := range all {
		if !strings.EqualFold(cm.Author, self) {
			continue
		}
		if text, ok := markedText(cm.Body, marker); ok {
			cm.Body = text
			return cm, true, nil
		}
	}
	return Comment{}, false, nil
}

// UpsertComment makes the bot's comment keyed by marker read text: it edits
// the existing one in place, leaves it alone if it already reads text, or
// creates it. created reports whether a new comment was posted.
func (c *Client) UpsertComment(ctx context.Context, repo Repo, number int64, marker, text string) (Comment, bool, error) {
	if err := checkMarker(marker); err != nil {
		return Comment{}, false, err
	}
	unlock := c.locks.Lock(fmt.Sprintf("%s#%d %s", repo, number, marker))
	defer unlock()
	existing, found, err := c.FindComment(ctx, repo, number, marker)
	if err != nil {
		return Comment{}, false, fmt.Errorf("upsert bot comment on %s#%d: %w", repo, number, err)
	}
	return c.write(ctx, repo, number, marker, text, existing, found)
}

// write makes the bot's comment keyed by marker read text, given what
// FindComment returned for it. The caller holds the comment's lock.
func (c *Client) write(ctx context.Context, repo Repo, number int64, marker, text string, existing Comment, found bool) (Comment, bool, error) {
	body := marker + "\n" + text
	if found {
		if existing.Body == text {
			return existing, false, nil
		}
		var out Comment
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			cm, resp, err := api.EditIssueComment(repo.Owner, repo.Name, existing.ID, gitea.EditIssueCommentOption{Body: body})
			if err == nil {
				out = toComment(cm)
			}
			return resp, err
		})
		if err != nil {
			return Comment{}, false, fmt.Errorf("edit bot comment %d on %s#%d: %w", existing.ID, repo, number, err)
		}
		out.Body = text
		return out, false, nil
	}
	var out Comment
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		cm, resp, err := api.CreateIssueComment(repo.Owner, repo.Name, number, gitea.CreateIssueCommentOption{Body: body})
		if err == nil {
			out = toComment(cm)
		}
		return resp, err
	})
	if err != nil {
		return Comment{}, false, fmt.Errorf("post bot comment on %s#%d: %w", repo, number, err)
	}
	out.Body = text
	return c.dedupe(ctx, repo, number, marker, out)
}

// dedupe keeps one bot comment per marker when another writer (a second
// process, a leader hand-over) created the same comment at the same time:
// the oldest stays and the others are deleted, whichever process runs this.
// It returns the comment that stays, and whether it is the one just made.
func (c *Client) dedupe(ctx context.Context, repo Repo, number int64, marker string, made Comment) (Comment, bool, error) {
	self, err := c.Self(ctx)
	if err != nil {
		return made, true, nil // made exists; the next write dedupes
	}
	all, err := c.ListComments(ctx, repo, number)
	if err != nil {
		return made, true, nil
	}
	var same []Comment
	for _, cm := range all {
		if text, ok := markedText(cm.Body, marker); ok && strings.EqualFold(cm.Author, self) {
			cm.Body = text
			same = append(same, cm)
		}
	}
	if len(same) < 2 {
		return made, true, nil
	}
	for _, extra := range same[1:] {
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			return api.DeleteIssueComment(repo.Owner, repo.Name, extra.ID)
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return same[0], false, fmt.Errorf("delete duplicate bot comment %d on %s#%d: %w", extra.ID, repo, number, err)
		}
	}
	return same[0], same[0].ID == made.ID, nil
}

// SetStatusSection sets one named section of the pull request's status
// comment (the bot's comment keyed by vocab.StatusMarker) to text, creating the
// comment if needed; empty text removes the section. Sections keep their
// order; a new one goes last. Updates of one pull request's status comment
// are serialized within this process.
func (c *Client) SetStatusSection(ctx context.Context, repo Repo, number int64, section, text string) error {
	if !vocab.ValidSection(section) {
		return fmt.Errorf("set status section %q on %s#%d: invalid section name", section, repo, number)
	}
	unlock := c.locks.Lock(fmt.Sprintf("%s#%d %s", repo, number, vocab.StatusMarker))
	defer unlock()
	existing, found, err := c.FindComment(ctx, repo, number, vocab.StatusMarker)
	if err != nil {
		return fmt.Errorf("set status section %q: %w", section, err)
	}
	if !found && text == "" {
		return nil
	}
	body := vocab.SetSection(existing.Body, section, text)
	if found && body == existing.Body {
		return nil
	}
	if _, _, err := c.write(ctx, repo, number, vocab.StatusMarker, body, existing, found); err != nil {
		return fmt.Errorf("set status section %q: %w", section, err)
	}
	return nil
}

// GetComment returns a comment as Gitea has it now (author, body), with the
// number of the issue or pull request it belongs to. ErrNotFound means it
// was deleted (or never existed in repo).
func (c *Client) GetComment(ctx context.Context, repo Repo, id int64) (Comment, int64, error) {
	var cm *gitea.Comment
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		var resp *gitea.Response
		var err error
		cm, resp, err = api.GetIssueComment(repo.Owner, repo.Name, id)
		return resp, err
	})
	if err != nil {
		return Comment{}, 0, fmt.Errorf("get comment %d of %s: %w", id, repo, err)
	}
	number := issueNumber(cm.PRURL)
	if number == 0 {
		number = issueNumber(cm.IssueURL)
	}
	return toComment(cm), number, nil
}

// issueNumber reads N from an issue or pull request URL ending in /N; 0 if
// it does not.
func issueNumber(url string) int64 {
	i := strings.LastIndexByte(url, '/')
	n, err := strconv.ParseInt(url[i+1:], 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
