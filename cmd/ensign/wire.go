package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/cluster"
	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/metrics"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
	"github.com/ensignbot/ensign/workspace"
)

// repoServices are the services of one GitOps repository.
type repoServices struct {
	ws       *workspace.Workspace
	promote  *promote.Service
	rollback *rollback.Service
	status   *status.Reporter
}

// bot is ensign wired from its configuration.
type bot struct {
	cfg      *config
	log      *slog.Logger
	forge    *forge.Client
	clusters *cluster.Set
	login    string
	repos    map[forge.Repo]*repoServices
	order    []forge.Repo
	now      func() time.Time
	// metrics, if set, records what ensign does (ensign run sets it).
	metrics *metrics.Registry
}

// newBot connects to Gitea (to learn its own login), builds the cluster
// clients and opens a Git cache per repository. now may be nil (time.Now).
func newBot(ctx context.Context, cfg *config, log *slog.Logger, now func() time.Time) (*bot, error) {
	if now == nil {
		now = time.Now
	}
	fc, err := forge.New(forge.Config{URL: cfg.GiteaURL, Token: string(cfg.GiteaToken)})
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
	b := &bot{cfg: cfg, log: log, forge: fc, clusters: cluster.NewSet(clients...), login: login,
		repos: map[forge.Repo]*repoServices{}, now: now}
	for _, r := range cfg.Repos {
		owner, name, _ := strings.Cut(r, "/")
		repo := forge.Repo{Owner: owner, Name: name}
		g, err := gitops.Open(ctx, gitops.Options{
			Dir:   filepath.Join(cfg.DataDir, "repos", owner, name+".git"),
			URL:   cfg.GiteaURL + "/" + owner + "/" + name + ".git",
			Token: string(cfg.GiteaToken),
		})
		if err != nil {
			return nil, fmt.Errorf("open the Git cache of %s: %w", repo, err)
		}
		ws := &workspace.Workspace{Repo: repo, Git: g, Branch: cfg.Branch, PolicyFile: cfg.PolicyFile}
		ps, err := promote.New(promote.Config{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now, Logger: log})
		if err != nil {
			return nil, err
		}
		rs, err := rollback.New(rollback.Config{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now, Logger: log})
		if err != nil {
			return nil, err
		}
		b.repos[repo] = &repoServices{ws: ws, promote: ps, rollback: rs,
			status: &status.Reporter{Workspace: ws, Forge: fc, Clusters: b.clusters, Bot: login, Now: now}}
		b.order = append(b.order, repo)
	}
	return b, nil
}

// close releases the Git caches.
func (b *bot) close() {
	for _, r := range b.repos {
		_ = r.ws.Git.Close()
	}
}

// repo returns the services of one repository, or the only one when name
// is empty.
func (b *bot) repo(name string) (*repoServices, error) {
	if name == "" {
		if len(b.order) == 1 {
			return b.repos[b.order[0]], nil
		}
		return nil, fmt.Errorf("ensign manages %d repositories; choose one with --repo", len(b.order))
	}
	owner, n, _ := strings.Cut(name, "/")
	r, ok := b.repos[forge.Repo{Owner: owner, Name: n}]
	if !ok {
		return nil, fmt.Errorf("--repo %s: not in ENSIGN_REPOS", name)
	}
	return r, nil
}

// HandleCanary routes a canary in a final phase to every repository's
// services; those whose policy does not mention the canary ignore it.
func (b *bot) HandleCanary(ctx context.Context, clusterName string, c *flaggerv1.Canary) error {
	var errs []error
	for _, repo := range b.order {
		svc := b.repos[repo]
		start := time.Now()
		switch c.Status.Phase {
		case flaggerv1.CanaryPhaseSucceeded:
			_, err := svc.promote.Succeeded(ctx, clusterName, c)
			b.observe("promote", start, err)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", repo, err))
			}
		case flaggerv1.CanaryPhaseFailed:
			_, err := svc.rollback.Failed(ctx, clusterName, c)
			b.observe("rollback", start, err)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", repo, err))
			}
		}
	}
	err := errors.Join(errs...)
	if errors.Is(err, workspace.ErrInvalidPolicy) {
		// Retrying cannot fix the file; the next push or resync will.
		return fmt.Errorf("%w: %w", err, canary.ErrPermanent)
	}
	return err
}

// observe records one handled canary result when metrics are on.
func (b *bot) observe(kind string, start time.Time, err error) {
	if b.metrics != nil {
		b.metrics.ObserveAction(kind, time.Since(start), err)
	}
}

// watchedClusters lists the clusters and namespaces the repositories'
// policies name. Repositories whose policy cannot be read are logged and
// skipped.
func (b *bot) watchedClusters(ctx context.Context) ([]canary.Cluster, string) {
	namespaces := map[string]map[string]bool{}
	for _, repo := range b.order {
		snap, err := b.repos[repo].ws.Sync(ctx)
		if err != nil {
			b.log.Error("cannot read the policy; ignoring the repository's canaries until it is fixed", "repo", repo.String(), "err", err)
			continue
		}
		if snap.Policy == nil {
			b.log.Warn("repository has no policy file; nothing to watch", "repo", repo.String(), "file", b.cfg.PolicyFile)
			continue
		}
		for _, ref := range snap.Policy.Canaries() {
			if namespaces[ref.Cluster] == nil {
				namespaces[ref.Cluster] = map[string]bool{}
			}
			namespaces[ref.Cluster][ref.Namespace] = true
		}
	}
	var out []canary.Cluster
	var keys []string
	for _, name := range sortedKeys(namespaces) {
		cl, err := b.clusters.Client(name)
		if err != nil {
			b.log.Error("the policy names a cluster without a kubeconfig", "cluster", name, "err", err)
			continue
		}
		ns := sortedKeys(namespaces[name])
		out = append(out, canary.Cluster{Name: name, Client: cl.Dynamic, Namespaces: ns})
		keys = append(keys, name+"="+strings.Join(ns, ","))
	}
	sort.Strings(keys)
	return out, strings.Join(keys, ";")
}

// Command routers: the dispatcher has one service of each kind; these pick
// the repository's.
type promoters struct{ b *bot }
type rollbacks struct{ b *bot }
type reporters struct{ b *bot }

const notManaged = "ensign does not manage this repository (it is not in ENSIGN_REPOS)."

func (p promoters) Promote(ctx context.Context, req command.Request) (string, error) {
	if s, ok := p.b.repos[req.Repo]; ok {
		return s.promote.Promote(ctx, req)
	}
	return notManaged, nil
}

func (r rollbacks) Rollback(ctx context.Context, req command.Request) (string, error) {
	if s, ok := r.b.repos[req.Repo]; ok {
		return s.rollback.Rollback(ctx, req)
	}
	return notManaged, nil
}

func (r reporters) Status(ctx context.Context, req command.Request) (string, error) {
	if s, ok := r.b.repos[req.Repo]; ok {
		return s.status.Status(ctx, req)
	}
	return notManaged, nil
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
