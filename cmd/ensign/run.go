package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/metrics"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/schedule"
	"github.com/ensignbot/ensign/webhook"
)

// runCmd is `ensign run`: the daemon.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "usage: ensign run\n\nRuns the daemon: watches Flagger canaries, receives Gitea webhooks, merges queued\npromotions when windows open. Configured by the environment (ensign config).\n")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return badUsage(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(ctx, envconfig.OsLookuper())
	if err == nil {
		err = cfg.requireWebhookSecret()
	}
	if err != nil {
		fmt.Fprintln(stderr, "ensign run:", err)
		return 2
	}
	log := newLogger(cfg, os.Stderr)
	b, err := newBot(ctx, cfg, log, nil)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	defer b.close()
	bi := currentBuild()
	b.metrics = metrics.New(metrics.Build{Version: bi.Version, Commit: bi.Commit, GoVersion: bi.GoVersion})
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		log.Error("listen", "addr", cfg.ListenAddr, "err", err)
		return 1
	}
	d := &daemon{bot: b, listener: ln, clock: schedule.RealClock{}}
	if err := d.run(ctx); err != nil {
		log.Error("ensign stopped", "err", err)
		return 1
	}
	return 0
}

// daemon is `ensign run` with its listener and clock injected, so tests can
// run it in-process.
type daemon struct {
	bot      *bot
	listener net.Listener
	clock    schedule.Clock
	// onReady, if set, is called once the canary caches have synced.
	onReady func()

	ready      atomic.Bool
	schedulers []*schedule.Scheduler
	rewatch    chan forge.Repo
}

// run serves until ctx is cancelled, then shuts down in order: stop taking
// webhooks, drain their work, stop the schedulers, stop watching.
func (d *daemon) run(ctx context.Context) error {
	b := d.bot
	log := b.log
	d.rewatch = make(chan forge.Repo, 16)
	disp, err := command.NewDispatcher(command.Config{
		Forge:    b.forge,
		Repos:    b.router,
		Services: b.router,
		Bot:      b.login,
		Floors:   b.cfg.floors,
		Logger:   log,
	})
	if err != nil {
		return err
	}
	hooks, err := webhook.New(webhook.Config{
		Secret:   []byte(b.cfg.WebhookSecret),
		BotLogin: b.login,
		Handlers: webhook.Handlers{Comment: disp.HandleComment, Push: d.onPush},
		Ready:    d.readiness,
		Logger:   log,
	})
	if err != nil {
		return err
	}
	srv := hooks.HTTPServer()
	var handler http.Handler = hooks
	if b.metrics != nil {
		// No leader election yet: this replica always acts.
		b.metrics.Leader.Set(1)
		mux := http.NewServeMux()
		mux.Handle(metrics.Path, b.metrics.Handler())
		mux.Handle("/", hooks)
		handler = mux
	}
	srv.Handler = handler
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(hooks.Listen(d.listener)) }()
	log.Info("ensign is running", "listen", d.listener.Addr().String(), "gitea", b.cfg.GiteaURL, "bot", b.login,
		"repos", len(b.order), "clusters", b.clusters.Names())

	for _, repo := range b.order {
		svc := b.repos[repo]
		src := func(ctx context.Context) (*policy.Policy, error) {
			snap, err := svc.ws.Sync(ctx)
			if err == nil && snap.Invalid != nil {
				return nil, snap.Invalid // no windows from an older policy
			}
			return snap.Policy, err
		}
		s := schedule.New(src, svc.promote, schedule.Options{Clock: d.clock, Logger: log.With("repo", repo.String())})
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("start the scheduler of %s: %w", repo, err)
		}
		d.schedulers = append(d.schedulers, s)
	}

	var wg sync.WaitGroup
	wg.Go(func() { d.watch(ctx) })
	wg.Go(func() { b.protectBranches(ctx) })

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("webhook listener failed", "err", err)
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err := hooks.Shutdown(shutdownCtx); err != nil {
		log.Warn("webhook work did not drain", "err", err)
	}
	for _, s := range d.schedulers {
		s.Stop()
	}
	wg.Wait()
	return nil
}

// readiness is /readyz: ready once the canary caches synced, while every
// repository's policy could be read at the last attempt.
func (d *daemon) readiness() error {
	if !d.ready.Load() {
		return errors.New("canary caches not synced yet")
	}
	degraded := d.bot.router.Degraded()
	if len(degraded) == 0 {
		return nil
	}
	var names []string
	for repo := range degraded {
		names = append(names, repo.String())
	}
	sort.Strings(names)
	return fmt.Errorf("degraded: cannot read the policy of %s; acting on what was read before", strings.Join(names, ", "))
}

// refreshEvery is how often the router re-reads the policies while one of
// them cannot be read.
const refreshEvery = 5 * time.Second

// watch runs the canary watcher over the namespaces the router's index
// names, and restarts it when that set changes. It re-reads the policies
// every resync period (a push webhook may have been lost), and every few
// seconds while one of them cannot be read.
func (d *daemon) watch(ctx context.Context) {
	b := d.bot
	if err := b.router.Refresh(ctx); err != nil {
		b.log.Warn("some policies could not be read at start; watching what could be read, retrying", "err", err)
	}
	for ctx.Err() == nil {
		clusters, key := b.watchedClusters()
		wctx, cancel := context.WithCancel(ctx)
		w := canary.NewWatcher(clusters, b.router, canary.Options{Workers: b.cfg.Workers, Resync: b.cfg.Resync, Logger: b.log})
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		go func() {
			for wctx.Err() == nil && !w.Synced() {
				time.Sleep(20 * time.Millisecond)
			}
			if w.Synced() && !d.ready.Swap(true) {
				if b.metrics != nil {
					b.metrics.Ready.Set(1)
				}
				if d.onReady != nil {
					d.onReady()
				}
			}
		}()
		stopped, restart := false, false
		lastFull := time.Now()
		tick := time.NewTicker(refreshEvery)
		for !restart {
			select {
			case <-ctx.Done():
				restart = true
			case err := <-done:
				stopped, restart = true, true
				if err != nil {
					b.log.Error("canary watcher stopped; restarting it", "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			case repo := <-d.rewatch:
				_ = b.router.Refresh(ctx, repo) // logged by the router
				restart = d.watchChanged(key)
			case <-tick.C:
				if len(b.router.Degraded()) == 0 && time.Since(lastFull) < b.cfg.Resync {
					continue
				}
				lastFull = time.Now()
				_ = b.router.Refresh(ctx)
				restart = d.watchChanged(key)
			}
		}
		tick.Stop()
		cancel()
		if !stopped {
			<-done
		}
	}
}

// watchChanged reports whether the router's index names other canaries
// than key says.
func (d *daemon) watchChanged(key string) bool {
	_, now := d.bot.watchedClusters()
	if now != key {
		d.bot.log.Info("the policies name other canaries now; restarting the watcher", "was", key, "now", now)
		return true
	}
	return false
}

// onPush reacts to a push to a managed deploy branch: the policy may have
// changed, so the schedulers re-read it and the router re-indexes it.
func (d *daemon) onPush(ctx context.Context, ev webhook.PushEvent) error {
	b := d.bot
	if ev.Ref != "refs/heads/"+b.cfg.Branch {
		return nil
	}
	for i, repo := range b.order {
		if strings.EqualFold(repo.Owner, ev.Owner) && strings.EqualFold(repo.Name, ev.Repo) {
			d.schedulers[i].Kick()
			select {
			case d.rewatch <- repo:
			default:
			}
			b.log.Debug("push to the deploy branch", "repo", repo.String(), "after", ev.After)
		}
	}
	return nil
}
