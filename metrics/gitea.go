package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ObserveGiteaRequest records one Gitea API request: operation names what was
// called from a fixed set (GiteaOperation gives one), code is the HTTP status,
// or 0 when no response came back (counted as code "error").
func (r *Registry) ObserveGiteaRequest(operation string, code int, took time.Duration) {
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	r.giteaRequests.WithLabelValues(operation, c).Inc()
	r.giteaSeconds.WithLabelValues(operation).Observe(seconds(took))
}

// GiteaTransport wraps next (http.DefaultTransport when nil) so that every
// request through it is recorded by ObserveGiteaRequest, labelled by
// GiteaOperation. Give it to the Gitea SDK's HTTP client.
func (r *Registry) GiteaTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return giteaTransport{r: r, next: next}
}

type giteaTransport struct {
	r    *Registry
	next http.RoundTripper
}

// RoundTrip sends req and records its operation, status and duration.
func (t giteaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	t.r.ObserveGiteaRequest(GiteaOperation(req.Method, req.URL.Path), code, time.Since(start))
	return resp, err
}

// giteaWords are the path segments of Gitea's API that name a resource or an
// action; every other segment is a value (owner, repository, number, name).
var giteaWords = []string{
	"admin", "archive", "branch_protections", "branches", "collaborators", "comments", "commits",
	"contents", "files", "git", "hooks", "issues", "labels", "media", "members", "merge", "notifications",
	"orgs", "permission", "pulls", "raw", "refs", "repos", "requested_reviewers", "reviews",
	"search", "settings", "statuses", "status", "tags", "teams", "timeline",
	"tokens", "trees", "update", "user", "users", "version",
}

// filePathAfter are the words after which the rest of the path is a file path.
var filePathAfter = []string{"contents", "raw", "media"}

// maxOperationSegments bounds the depth of an operation's route template.
const maxOperationSegments = 8

// GiteaOperation names a Gitea API request by its method and route template,
// with values replaced by placeholders, so the label set stays bounded:
// "POST /repos/{owner}/{repo}/pulls/{id}/merge". Paths without /api/v1/ are
// "other"; a file path in a repository is "{path}"; deeper paths are cut at
// eight segments and end in "/...".
func GiteaOperation(method, path string) string {
	// Gitea may be served under a sub-path (https://host/gitea/api/v1/...).
	i := strings.Index(path, "/api/v1/")
	if i < 0 {
		return methodName(method) + " other"
	}
	rest := path[i+len("/api/v1/"):]
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	var b strings.Builder
	b.WriteString(methodName(method))
	b.WriteByte(' ')
	for i, s := range segs {
		if i == maxOperationSegments {
			b.WriteString("/...")
			break
		}
		b.WriteByte('/')
		inRepo := segs[0] == "repos" && len(segs) >= 3
		switch {
		case inRepo && i == 1:
			b.WriteString("{owner}")
		case inRepo && i == 2:
			b.WriteString("{repo}")
		case i > 0 && slices.Contains(filePathAfter, segs[i-1]):
			// The rest is a file path in the repository.
			b.WriteString("{path}")
			return b.String()
		case slices.Contains(giteaWords, s):
			b.WriteString(s)
		case isNumber(s):
			b.WriteString("{id}")
		default:
			b.WriteString("{name}")
		}
	}
	return b.String()
}

// methodName bounds the method label to the methods HTTP defines.
func methodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	case "":
		return http.MethodGet
	}
	return "OTHER"
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
