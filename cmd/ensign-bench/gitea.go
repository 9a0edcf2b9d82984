package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// giteaAPI makes the few raw GET calls the benchmarks poll with: one
// keep-alive connection, no SDK overhead, so a poll costs what Gitea costs.
type giteaAPI struct {
	base  string // .../api/v1/repos/<owner>/<repo>
	token string
	http  *http.Client
}

func newGiteaAPI(giteaURL, owner, repo, token string) *giteaAPI {
	return &giteaAPI{
		base:  strings.TrimSuffix(giteaURL, "/") + "/api/v1/repos/" + owner + "/" + repo,
		token: token,
		http:  &http.Client{Timeout: 10 * time.Second},
	}
}

// get decodes GET base+path into v; found is false on 404.
func (a *giteaAPI) get(ctx context.Context, path string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "token "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, resp.Body)
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return true, json.NewDecoder(resp.Body).Decode(v)
}

// branchHead is what Gitea's branch API says about a branch's head.
type branchHead struct {
	Commit struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"commit"`
}

func (a *giteaAPI) head(ctx context.Context, branch string) (branchHead, error) {
	var b branchHead
	found, err := a.get(ctx, "/branches/"+branch, &b)
	if err == nil && !found {
		err = fmt.Errorf("branch %s not found", branch)
	}
	return b, err
}

// pull is the part of a pull request the benchmarks read.
type pull struct {
	Number int64  `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	State  string `json:"state"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

// pull returns pull request number n; found is false while it does not exist.
func (a *giteaAPI) pull(ctx context.Context, n int64) (pull, bool, error) {
	var p pull
	found, err := a.get(ctx, fmt.Sprintf("/pulls/%d", n), &p)
	return p, found, err
}

// lastPull returns the highest pull request number among the newest 50.
func (a *giteaAPI) lastPull(ctx context.Context) (int64, error) {
	var prs []pull
	if _, err := a.get(ctx, "/pulls?state=all&limit=50", &prs); err != nil {
		return 0, err
	}
	var n int64
	for _, p := range prs {
		n = max(n, p.Number)
	}
	return n, nil
}

// poll calls probe every interval until it reports done, and returns when
// the successful probe returned and the round-trip times of all probes.
func poll(ctx context.Context, interval, limit time.Duration, probe func(context.Context) (bool, error)) (time.Time, []time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var rtts []time.Duration
	for {
		start := time.Now()
		ok, err := probe(ctx)
		end := time.Now()
		rtts = append(rtts, end.Sub(start))
		if err != nil {
			return end, rtts, err
		}
		if ok {
			return end, rtts, nil
		}
		select {
		case <-ctx.Done():
			return end, rtts, fmt.Errorf("gave up after %v: %w", limit, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// commit is the part of a commit the burst benchmark reads.
type commit struct {
	SHA    string `json:"sha"`
	Commit struct {
		Message string `json:"message"`
	} `json:"commit"`
}

// commitsSince lists the first-parent history of head back to (not
// including) stop, 50 commits a page.
func (a *giteaAPI) commitsSince(ctx context.Context, head, stop string) ([]commit, error) {
	var out []commit
	for page := 1; page <= 100; page++ {
		var cs []commit
		if _, err := a.get(ctx, fmt.Sprintf("/commits?sha=%s&limit=50&page=%d&stat=false&verification=false&files=false", head, page), &cs); err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.SHA == stop {
				return out, nil
			}
			out = append(out, c)
		}
		if len(cs) < 50 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s is not within 5,000 commits of %s", stop, head)
}

// openPulls lists every open pull request, 50 a page.
func (a *giteaAPI) openPulls(ctx context.Context) ([]pull, error) {
	var out []pull
	for page := 1; page <= 100; page++ {
		var prs []pull
		if _, err := a.get(ctx, fmt.Sprintf("/pulls?state=open&limit=50&page=%d", page), &prs); err != nil {
			return nil, err
		}
		out = append(out, prs...)
		if len(prs) < 50 {
			return out, nil
		}
	}
	return out, nil
}

// revertOnMain is a poll probe: done once main's head is the revert of
// commit sha, an error if main moved to anything else.
func (a *giteaAPI) revertOnMain(sha string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		h, err := a.head(ctx, "main")
		switch {
		case err != nil:
			return false, err
		case h.Commit.ID == sha:
			return false, nil
		case !strings.Contains(h.Commit.Message, "This reverts commit "+sha):
			return false, fmt.Errorf("main moved to %s, which is not the revert of %s: %q", h.Commit.ID, sha, h.Commit.Message)
		}
		return true, nil
	}
}
