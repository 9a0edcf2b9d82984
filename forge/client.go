package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/internal/keyed"
)

// Default timeouts and bounds used when Config leaves them zero.
const (
	DefaultCallTimeout = 20 * time.Second
	DefaultMergeWait   = 2 * time.Minute
	// maxPages bounds every paginated listing (50 items a page), so a huge
	// repository cannot make one call unbounded.
	maxPages = 100
	pageSize = 50
)

// TokenScopes are the Gitea access token scopes the bot's token needs for
// every call this package makes.
var TokenScopes = []string{"write:repository", "write:issue", "read:organization", "read:user"}

// Repo names a Gitea repository.
type Repo struct {
	Owner string
	Name  string
}

// String returns "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// Config configures a Client.
type Config struct {
	// URL is Gitea's base URL, e.g. https://gitea.example.com.
	URL string
	// Token is an access token of the bot account. It is sent as an
	// Authorization header and never logged.
	Token string
	// HTTPClient is used for every request; nil means a client with no
	// overall timeout (each call gets CallTimeout through its context).
	HTTPClient *http.Client
	// CallTimeout bounds each single HTTP call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// MergeWait bounds how long Merge keeps retrying while Gitea reports the
	// pull request as not mergeable yet; zero means DefaultMergeWait.
	MergeWait time.Duration
}

// Client talks to one Gitea server as the bot account. Create it with New.
type Client struct {
	base        string
	token       string
	http        *http.Client
	callTimeout time.Duration
	mergeWait   time.Duration

	labels labelCache
	locks  keyed.Mutex

	selfMu sync.Mutex
	self   string
}

// New validates cfg and returns a Client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitea url %q: want an absolute http(s) URL", cfg.URL)
	}
	if cfg.Token == "" {
		return nil, errors.New("gitea token is empty")
	}
	c := &Client{
		base:        strings.TrimSuffix(cfg.URL, "/"),
		token:       cfg.Token,
		http:        cfg.HTTPClient,
		callTimeout: cfg.CallTimeout,
		mergeWait:   cfg.MergeWait,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.callTimeout <= 0 {
		c.callTimeout = DefaultCallTimeout
	}
	if c.mergeWait <= 0 {
		c.mergeWait = DefaultMergeWait
	}
	return c, nil
}

// call runs fn with an SDK client bound to a context that carries this
// client's per-call timeout. The SDK keeps its context in the client value,
// so a fresh, cheap SDK client per call is what makes per-call deadlines and
// concurrent use safe; version probing is switched off so it makes no request.
func (c *Client) call(ctx context.Context, fn func(api *gitea.Client) (*gitea.Response, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	api, err := gitea.NewClient(c.base,
		gitea.SetToken(c.token),
		gitea.SetHTTPClient(c.http),
		gitea.SetGiteaVersion(""),
		gitea.SetContext(ctx),
		gitea.SetUserAgent("ensign"),
	)
	if err != nil {
		return fmt.Errorf("create gitea api client: %w", err)
	}
	resp, err := fn(api)
	return statusErr(resp, err)
}

// Self returns the login of the account the token belongs to, asking Gitea
// once and caching the answer.
func (c *Client) Self(ctx context.Context) (string, error) {
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	if c.self != "" {
		return c.self, nil
	}
	var login string
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		u, resp, err := api.GetMyUserInfo()
		if err == nil {
			login = u.UserName
		}
		return resp, err
	})
	if err != nil {
		return "", fmt.Errorf("get bot user: %w", err)
	}
	c.self = login
	return login, nil
}

// errStopPaging ends a pages walk early without an error.
var errStopPaging = errors.New("stop paging")

// pages calls list for page 1, 2, ... of a Gitea listing until Gitea
// reports no next page, list returns errStopPaging, or maxPages pages were
// read. Each page is one call with its own timeout.
func (c *Client) pages(ctx context.Context, list func(api *gitea.Client, opt gitea.ListOptions) (*gitea.Response, error)) error {
	for page := 1; page <= maxPages; {
		var next int
		stop := false
		err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
			resp, err := list(api, gitea.ListOptions{Page: page, PageSize: pageSize})
			if errors.Is(err, errStopPaging) {
				stop, err = true, nil
			}
			if err == nil && resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil || stop || next <= page {
			return err
		}
		page = next
	}
	return nil
}
