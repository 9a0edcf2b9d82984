package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// MergeStyle is how Gitea merges a pull request.
type MergeStyle string

// Merge styles Gitea offers. The repository must allow the one chosen.
const (
	MergeCommit      MergeStyle = "merge"
	MergeSquash      MergeStyle = "squash"
	MergeRebase      MergeStyle = "rebase"
	MergeRebaseMerge MergeStyle = "rebase-merge"
	MergeFastForward MergeStyle = "fast-forward-only"
)

// ParseMergeStyle checks s names a merge style Gitea offers.
func ParseMergeStyle(s string) (MergeStyle, error) {
	switch m := MergeStyle(s); m {
	case MergeCommit, MergeSquash, MergeRebase, MergeRebaseMerge, MergeFastForward:
		return m, nil
	}
	return "", fmt.Errorf("unknown merge style %q (want merge, squash, rebase, rebase-merge or fast-forward-only)", s)
}

// MergeOptions says how to merge a pull request.
type MergeOptions struct {
	// Style defaults to MergeCommit.
	Style MergeStyle
	// HeadSHA is the head commit the caller verified; required. Gitea merges
	// only if the head is still exactly this commit.
	HeadSHA string
	// Title and Message override Gitea's default merge commit message.
	Title   string
	Message string
}

// Merge merges a pull request whose head is still opt.HeadSHA. While Gitea
// answers that it is not mergeable yet (405 "Please try again later", which
// it says for a while after another merge into the same base), Merge waits
// with bounded backoff for up to Config.MergeWait.
//
// It returns nil once merged, ErrAlreadyMerged if the pull request was merged
// before (for example by this call's previous attempt), ErrClosed,
// ErrHeadChanged if the head moved, or ErrNotMergeable if the wait ran out.
func (c *Client) Merge(ctx context.Context, repo Repo, number int64, opt MergeOptions) error {
	if opt.HeadSHA == "" {
		return fmt.Errorf("merge pull request %s#%d: expected head sha is required", repo, number)
	}
	if opt.Style == "" {
		opt.Style = MergeCommit
	}
	if _, err := ParseMergeStyle(string(opt.Style)); err != nil {
		return fmt.Errorf("merge pull request %s#%d: %w", repo, number, err)
	}
	deadline := time.Now().Add(c.mergeWait)
	delay := 250 * time.Millisecond
	for {
		pr, err := c.GetPullRequest(ctx, repo, number)
		if err != nil {
			return fmt.Errorf("merge pull request %s#%d: %w", repo, number, err)
		}
		switch {
		case pr.Merged:
			return fmt.Errorf("merge pull request %s#%d: %w (merge commit %s)", repo, number, ErrAlreadyMerged, pr.MergeCommitSHA)
		case !pr.Open():
			return fmt.Errorf("merge pull request %s#%d: %w", repo, number, ErrClosed)
		case pr.HeadSHA != opt.HeadSHA:
			return fmt.Errorf("merge pull request %s#%d: %w: expected %s, found %s", repo, number, ErrHeadChanged, opt.HeadSHA, pr.HeadSHA)
		}
		retry, err := c.mergeOnce(ctx, repo, number, opt)
		if err == nil {
			return nil
		}
		if !retry {
			return fmt.Errorf("merge pull request %s#%d: %w", repo, number, err)
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("merge pull request %s#%d: %w after waiting %s: %w", repo, number, ErrNotMergeable, c.mergeWait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("merge pull request %s#%d: %w", repo, number, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 4*time.Second)
	}
}

// mergeOnce makes one merge request. retry reports whether the answer means
// "not now" rather than "no".
func (c *Client) mergeOnce(ctx context.Context, repo Repo, number int64, opt MergeOptions) (retry bool, err error) {
	body := map[string]any{
		"Do":                string(opt.Style),
		"head_commit_id":    opt.HeadSHA,
		"MergeTitleField":   opt.Title,
		"MergeMessageField": opt.Message,
		// Always keep the head branch, whatever the repository's default:
		// Gitea deletes asynchronously, and a late deletion closes the pull
		// request of a re-promotion that recreated the same branch.
		"delete_branch_after_merge": false,
	}
	path := fmt.Sprintf("/repos/%s/%s/pulls/%d/merge", repo.Owner, repo.Name, number)
	code, msg, err := c.rawJSON(ctx, http.MethodPost, path, body)
	if err != nil {
		return false, err
	}
	switch {
	case code == http.StatusOK:
		return false, nil
	case code == http.StatusMethodNotAllowed && strings.Contains(msg, "try again later"):
		return true, &StatusError{Code: code, Message: msg}
	case code == http.StatusMethodNotAllowed && strings.Contains(msg, "already merged"):
		return false, ErrAlreadyMerged
	case code == http.StatusConflict && strings.Contains(msg, "head out of date"):
		return false, ErrHeadChanged
	case code == http.StatusConflict && strings.Contains(msg, "push out of date"):
		// The base moved while Gitea was merging; the next attempt sees it.
		return true, &StatusError{Code: code, Message: msg}
	case code >= http.StatusInternalServerError:
		// Gitea answers 500 to the loser of two concurrent merges of one
		// pull request (a pipeline's promote --now and the running bot);
		// the next attempt re-reads the pull request and finds it merged.
		return true, &StatusError{Code: code, Message: msg}
	}
	return false, &StatusError{Code: code, Message: msg}
}

// rawJSON sends one JSON request to Gitea's API and returns the status code
// and, for an error status, Gitea's message. The SDK's merge call discards
// the error body, and the merge flow needs it to tell "try again later" from
// "no".
func (c *Client) rawJSON(ctx context.Context, method, path string, in any) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	payload, err := json.Marshal(in)
	if err != nil {
		return 0, "", fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, bytes.NewReader(payload))
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "token "+c.token)
	req.Header.Set("User-Agent", "ensign")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode < 300 {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, errorMessage(data), nil
}

// errorMessage extracts Gitea's "message" from an error body, or returns the
// body itself, trimmed and bounded.
func errorMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return e.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
