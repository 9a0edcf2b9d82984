package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/metrics"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/route"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/workspace"
)

// repoServices are the services of one GitOps repository.
type repoServices struct {
	ws       *workspace.Workspace
	promote  *promote.Service
	rollback *rollback.Service
	status   *status.Reporter
	gate     *gate.Service
	freeze   *freeze.Service
}

// bot is ensign wired from its configuration.
type bot struct {
	cfg   *config
	log   *slog.Logger
	forge *forge.Client
	// gitea watches every call to Gitea and tells when it answers again
	// after an outage (ensign run runs its prober).
	gitea    *forge.Monitor
	clusters *cluster.Set
	login    string
	repos    map[forge.Repo]*repoServices
	order    []forge.Repo
	router   *route.Router
	now      func() time.Time
	// metrics, if set, records what ensign does (ensign run sets it).
	metrics *metrics.Registry
}

// newBot connects to Gitea (to learn its own login), builds the cluster
// clients and opens a Git cache per repository. now may be nil (time.Now);
// reg may be nil (no metrics, as in the CLI).
func newBot(ctx context.Context, cfg *config, log *slog.Logger, now func() time.Time, reg *metrics.Registry) (*bot, error) {
	if now == nil {
		now = time.Now
	}
	mon := forge.NewMonitor(cfg.GiteaURL, forge.MonitorOptions{Logger: log})
	giteaHTTP := &http.Client{Transport: mon.Transport(newTransport())}
	gitHTTP := &http.Client{Transport: mon.Transport(newTransport())}
	if reg != nil {
		giteaHTTP.Transport = reg.GiteaTransport(giteaHTTP.Transport)
	}
	observeGit := func(op string, took time.Duration, err error) {
		if reg != nil {
			reg.ObserveGit(metrics.GitOp(op), gitResult(err), took)
		}
		// The fetches' and pushes' errors reach their callers; a repack's
		// does not (the operation that triggered it succeeded), so it is
		// logged here. The next fetch or push tries again.
		if op == string(metrics.GitRepack) && err != nil {
			log.Warn("cannot repack a repository cache; it keeps working with more packs", "took", took, "err", err)
		}
	}
	fc, err := forge.New(forge.Config{URL: cfg.GiteaURL, Token: string(cfg.GiteaToken), HTTPClient: giteaHTTP, CallTimeout: cfg.GiteaTimeout})
	if err != nil {
		return nil, fmt.Errorf("ENSIGN_GITEA_URL: %w", err)
	}
	login, err := fc.Self(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask Gitea who ENSIGN_GITEA_TOKEN belongs to: %w", err)
	}
	var clients []*cluster.Client
	for _, name := range sortedKeys(cfg.Kubeconfigs) {
		c, err := cluster.FromKubeconfig(name, cfg.Kubeconfigs[name])
		if err != nil {
			return nil, fmt.Errorf("ENSIGN_KUBECONFIGS: %w", err)
		}
		clients = append(clients, c)
	}
	b := &bot{cfg: cfg, log: log, forge: fc, gitea: mon, clusters: cluster.NewSet(clients...), login: login,
		repos: map[forge.Repo]*repoServices{}, now: now, metrics: reg}
	for _, r := range cfg.Repos {
		owner, name, _ := strings.Cut(r, "/")
		repo := forge.Repo{Owner: owner, Name: name}
		g, err := gitops.Open(ctx, gitops.Options{
			Dir:        filepath.Join(cfg.DataDir, "repos", owner, name+".git"),
			URL:        cfg.GiteaURL + "/" + owner + "/" + name + ".git",
			Token:      string(cfg.GiteaToken),
			HTTPClient: gitHTTP, Timeout: cfg.GitTimeout, Observe: observeGit,
		})
		if err != nil {
			return nil, fmt.Errorf("open the Git cache of %s: %w", repo, err)
		}
		ws := &workspace.Workspace{Repo: repo, Git: g, Branch: cfg.Branch, PolicyFile: cfg.PolicyFile, Promotions: cfg.Promotions}
		ps, err := promote.New(promote.Config{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now, Logger: log})
		if err != nil {
			return nil, err
		}
		rs, err := rollback.New(rollback.Config{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now, Logger: log})
		if err != nil {
			return nil, err
		}
		gs, err := gate.New(gate.Config{Workspace: ws, Forge: fc, Clusters: b.clusters, Now: now, Logger: log})
		if err != nil {
			return nil, err
		}
		b.repos[repo] = &repoServices{ws: ws, promote: ps, rollback: rs, gate: gs, freeze: freeze.New(ws, fc, log, now),
			status: &status.Reporter{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now}}
		b.order = append(b.order, repo)
	}
	var routed []*route.Repo
	for _, repo := range b.order {
		svc := b.repos[repo]
		routed = append(routed, &route.Repo{Workspace: svc.ws, Promote: svc.promote, Rollback: svc.rollback, Status: svc.status, Gate: svc.gate, Freeze: svc.freeze})
	}
	b.router, err = route.New(route.Config{Repos: routed, Events: b.clusters, Statuses: fc, Observe: b.observe,
		ActionTimeout: cfg.ActionTimeout, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// close stops the workspaces' shared fetches and releases the Git caches.
func (b *bot) close() {
	for _, r := range b.repos {
		r.ws.Close()
		_ = r.ws.Git.Close()
	}
}

// repo returns the services of one repository by "owner/name", or the
// only one when name is empty.
func (b *bot) repo(name string) (*repoServices, error) {
	r, err := b.router.Repo(name)
	if err != nil {
		return nil, err
	}
	return b.repos[r.Workspace.Repo], nil
}

// observe records one handled canary result when metrics are on: how long
// it took, and for a revert pushed or opened (or a promotion opened, merged
// or pushed) the time since the canary's result.
func (b *bot) observe(o route.Observation) {
	if b.metrics == nil {
		return
	}
	b.metrics.ObserveAction(o.Kind, o.Took, o.Err)
	since := b.now().Sub(o.Result)
	switch o.Rollback {
	case rollback.ActionReverted:
		b.metrics.ObserveRollbackLatency(metrics.RollbackPush, since)
	case rollback.ActionRevertPR:
		b.metrics.ObserveRollbackLatency(metrics.RollbackPR, since)
	}
	for _, a := range o.Promotions {
		switch a {
		case promote.ActionMerged:
			b.metrics.ObservePromotionLatency(metrics.PromotionMerged, since)
		case promote.ActionPushed:
			b.metrics.ObservePromotionLatency(metrics.PromotionPushed, since)
		case promote.ActionQueued, promote.ActionWaiting:
			b.metrics.ObservePromotionLatency(metrics.PromotionOpened, since)
		}
	}
}

// gitResult names how a Git operation ended, for ensign_git_operations_total.
func gitResult(err error) metrics.GitResult {
	var rejected *gitops.PushRejectedError
	var conflict *gitops.ConflictError
	switch {
	case err == nil, errors.Is(err, gitops.ErrAlreadyReverted), errors.Is(err, gitops.ErrNothingToCommit):
		return metrics.GitOK
	case errors.As(err, &conflict):
		return metrics.GitConflict
	case errors.As(err, &rejected) && rejected.Stale:
		return metrics.GitRejected
	}
	return metrics.GitError
}

// newTransport is the HTTP transport of ensign's calls to Gitea (API and
// Git): a connection that cannot be made, secured or answered in time fails
// instead of hanging; each call's context bounds the rest.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}
}

// watchedClusters lists the clusters and namespaces the router's index
// names, and a key that changes when they do.
func (b *bot) watchedClusters() ([]canary.Cluster, string) {
	watched := b.router.Watched()
	var out []canary.Cluster
	var keys []string
	for _, name := range sortedKeys(watched) {
		cl, err := b.clusters.Client(name)
		if err != nil {
			b.log.Error("the policy names a cluster without a kubeconfig", "cluster", name, "err", err)
			continue
		}
		out = append(out, canary.Cluster{Name: name, Client: cl.Dynamic, Namespaces: watched[name]})
		keys = append(keys, name+"="+strings.Join(watched[name], ","))
	}
	sort.Strings(keys)
	return out, strings.Join(keys, ";")
}

// newLogger builds the logger the configuration asks for.
func newLogger(cfg *config, w *os.File) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
