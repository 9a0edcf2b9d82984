package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-envconfig"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/leader"
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
	klog.SetSlogLogger(log) // client-go (informers, leader election) logs through ensign's logger
	bi := currentBuild()
	reg := metrics.New(metrics.Build{Version: bi.Version, Commit: bi.Commit, GoVersion: bi.GoVersion})
	workqueue.SetProvider(reg.WorkqueueProvider()) // before any watcher makes a queue
	b, err := newBot(ctx, cfg, log, nil, reg)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	defer b.close()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		log.Error("listen", "addr", cfg.ListenAddr, "err", err)
		return 1
	}
	d := &daemon{bot: b, listener: ln, clock: schedule.RealClock{}}
	if cfg.LeaderElection {
		if d.elector, err = newElector(cfg, ln.Addr(), d.setLeader, log); err != nil {
			log.Error("leader election", "err", err)
			return 1
		}
	}
	if err := d.run(ctx); err != nil {
		log.Error("ensign stopped", "err", err)
		return 1
	}
	return 0
}

// newElector campaigns for the Lease in the cluster ensign runs in (its
// in-cluster configuration, or $KUBECONFIG outside a cluster), as POD_NAME
// (or the host name), announcing the address it serves webhooks on:
// POD_IP with the listener's port, or the listener's own address when it
// names a host.
func newElector(cfg *config, addr net.Addr, onChange func(leading bool), log *slog.Logger) (*leader.Elector, error) {
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the cluster of the Lease (in-cluster, or $KUBECONFIG): %w", err)
	}
	kc, err := kubernetes.NewForConfig(rest.CopyConfig(rc))
	if err != nil {
		return nil, err
	}
	identity := os.Getenv("POD_NAME")
	if identity == "" {
		if identity, err = os.Hostname(); err != nil {
			return nil, err
		}
		identity += "-" + strconv.Itoa(os.Getpid())
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, err
	}
	if ip := os.Getenv("POD_IP"); ip != "" {
		host = ip
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return nil, err
		}
	}
	return leader.New(leader.Config{
		Client: kc, Namespace: cfg.LeaderElectionNamespace, Name: cfg.LeaderElectionID,
		Identity: identity, Address: net.JoinHostPort(host, port),
		LeaseDuration: cfg.LeaseDuration, RenewDeadline: cfg.RenewDeadline, RetryPeriod: cfg.RetryPeriod,
		OnChange: onChange, Logger: log,
	})
}

// daemon is `ensign run` with its listener and clock injected, so tests can
// run it in-process.
type daemon struct {
	bot      *bot
	listener net.Listener
	clock    schedule.Clock
	// elector, if set, decides whether this replica acts; nil: it always does.
	elector *leader.Elector
	// onReady, if set, is called once the canary caches have synced.
	onReady func()

	ready      atomic.Bool
	disp       *command.Dispatcher
	mu         sync.Mutex
	schedulers map[forge.Repo]*schedule.Scheduler
	rewatch    chan forge.Repo
}

// maxForwardedBody bounds what a follower passes on to the leader; the
// leader's own limit is the webhook receiver's (2 MiB).
const maxForwardedBody = 4 << 20

// run serves until ctx is cancelled, then shuts down in order: stop taking
// webhooks, drain their work, stop acting (schedulers, watcher), and only
// then give up the leader Lease. A replica that loses its Lease stops at
// once and run returns leader.ErrLost.
func (d *daemon) run(ctx context.Context) error {
	b := d.bot
	log := b.log
	d.rewatch = make(chan forge.Repo, 16)
	cc := command.Config{
		Forge:    b.forge,
		Repos:    b.router,
		Services: b.router,
		Bot:      b.login,
		Floors:   b.cfg.floors,
		Logger:   log,
	}
	wc := webhook.Config{
		Secret:   []byte(b.cfg.WebhookSecret),
		BotLogin: b.login,
		Handlers: webhook.Handlers{Push: d.onPush},
		Ready:    d.readiness,
		// A comment's commands may take several actions' time.
		HandlerTimeout: 2 * b.cfg.ActionTimeout,
		Logger:         log,
	}
	if m := b.metrics; m != nil {
		cc.Observe = func(name string, r command.Result) { m.ObserveCommand(name, metrics.CommandResult(r)) }
		wc.Observe = func(event string, r webhook.Result) { m.ObserveDelivery(event, metrics.DeliveryResult(r)) }
		wc.QueueDepth = func(n int) { m.SetQueueDepth(metrics.QueueWebhook, n) }
	}
	disp, err := command.NewDispatcher(cc)
	if err != nil {
		return err
	}
	d.disp = disp
	wc.Handlers.Comment = disp.HandleComment
	hooks, err := webhook.New(wc)
	if err != nil {
		return err
	}
	srv := hooks.HTTPServer()
	mux := http.NewServeMux()
	if b.metrics != nil {
		mux.Handle(metrics.Path, b.metrics.Handler())
	}
	var deliveries http.Handler = hooks
	if d.elector != nil {
		deliveries = leader.NewForwarder(d.elector, hooks, maxForwardedBody)
	}
	mux.Handle(webhook.Path, deliveries)
	mux.Handle("/", hooks)
	srv.Handler = mux
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(hooks.Listen(d.listener)) }()
	log.Info("ensign is running", "listen", d.listener.Addr().String(), "gitea", b.cfg.GiteaURL, "bot", b.login,
		"repos", len(b.order), "clusters", b.clusters.Names(), "leader_election", d.elector != nil)

	actCtx, stopActing := context.WithCancel(ctx)
	defer stopActing()
	acted := make(chan error, 1)
	go func() {
		if d.elector == nil {
			d.setLeader(true)
			acted <- d.act(actCtx)
			return
		}
		acted <- d.elector.Run(actCtx, func(ctx context.Context) { _ = d.act(ctx) })
	}()

	var result error
	stopped := false
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("webhook listener failed", "err", err)
	case result = <-acted:
		stopped = true
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if errors.Is(result, leader.ErrLost) {
		cancel() // another replica leads: drop the queued work instead of draining it
	}
	_ = srv.Shutdown(shutdownCtx)
	if err := hooks.Shutdown(shutdownCtx); err != nil && result == nil {
		log.Warn("webhook work did not drain", "err", err)
	}
	stopActing()
	if !stopped {
		result = <-acted
	}
	return result
}

// act is what the leader does until ctx ends: the window schedulers, the
// canary watcher and branch protection. It returns once all of them stopped.
func (d *daemon) act(ctx context.Context) error {
	b := d.bot
	d.mu.Lock()
	d.schedulers = map[forge.Repo]*schedule.Scheduler{}
	d.mu.Unlock()
	var errs []error
	for _, repo := range b.order {
		svc := b.repos[repo]
		src := func(ctx context.Context) (*policy.Policy, error) {
			snap, err := svc.ws.Sync(ctx)
			if err == nil && snap.Invalid != nil {
				return nil, snap.Invalid // no windows from an older policy
			}
			return snap.Policy, err
		}
		s := schedule.New(src, svc.promote, schedule.Options{Clock: d.clock, Logger: b.log.With("repo", repo.String())})
		if err := s.Start(ctx); err != nil {
			errs = append(errs, fmt.Errorf("start the scheduler of %s: %w", repo, err))
			continue
		}
		d.mu.Lock()
		d.schedulers[repo] = s
		d.mu.Unlock()
	}
	var wg sync.WaitGroup
	wg.Go(func() { d.watch(ctx) })
	wg.Go(func() { b.protectBranches(ctx) })
	wg.Go(func() { d.reportWindows(ctx) })
	wg.Go(func() { d.catchUp(ctx) })
	<-ctx.Done()
	d.mu.Lock()
	for _, s := range d.schedulers {
		s.Stop()
	}
	d.schedulers = nil
	d.mu.Unlock()
	wg.Wait()
	return errors.Join(errs...)
}

// catchUpWindow is how far back ensign looks for comment commands whose
// delivery it missed.
const catchUpWindow = 24 * time.Hour

// catchUp answers missed comment commands when this replica starts to act
// (a fail-over or restart loses the deliveries in between; Gitea does not
// redeliver) and again every resync period.
func (d *daemon) catchUp(ctx context.Context) {
	b := d.bot
	for {
		for _, repo := range b.order {
			n, err := d.disp.CatchUp(ctx, repo, time.Now().Add(-catchUpWindow))
			if err != nil && ctx.Err() == nil {
				b.log.Warn("catch up on missed comment commands", "repo", repo.String(), "answered", n, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.cfg.Resync):
		}
	}
}

// windowsEvery is how often the window gauges are brought up to date.
const windowsEvery = 15 * time.Second

// reportWindows keeps ensign_window_open up to date while this replica
// acts. The watcher also calls windowsNow after each policy read.
func (d *daemon) reportWindows(ctx context.Context) {
	for {
		d.windowsNow()
		select {
		case <-ctx.Done():
			return
		case <-time.After(windowsEvery):
		}
	}
}

// windowsNow sets ensign_window_open for every stage of every policy in
// force: whether its promotion windows are open now.
func (d *daemon) windowsNow() {
	b := d.bot
	if b.metrics == nil {
		return
	}
	now := d.clock.Now()
	for _, repo := range b.order {
		var ws []metrics.Window
		if pol := b.router.PolicyInForce(repo); pol != nil {
			for _, a := range pol.Apps {
				for i := range a.Stages {
					ws = append(ws, metrics.Window{App: a.Name, Stage: a.Stages[i].Name, Open: pol.EvaluateStage(&a.Stages[i], now).Open})
				}
			}
		}
		b.metrics.SetWindows(repo.String(), ws)
	}
}

// setLeader records whether this replica acts.
func (d *daemon) setLeader(leading bool) {
	if d.bot.metrics == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	d.bot.metrics.Leader.Set(v)
}

// readiness is /readyz: whether this replica can take a delivery now. The
// leader is ready once its canary caches synced, while every repository's
// policy could be read at the last attempt; a standby replica is ready
// while it knows a leader to pass deliveries on to.
func (d *daemon) readiness() error {
	if d.elector != nil && !d.elector.Leading() {
		if d.elector.LeaderAddress() == "" {
			return errors.New("standing by, and no replica leads yet")
		}
		return nil
	}
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
	d.windowsNow()
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
				d.windowsNow()
				restart = d.watchChanged(key)
			case <-tick.C:
				if len(b.router.Degraded()) == 0 && time.Since(lastFull) < b.cfg.Resync {
					continue
				}
				lastFull = time.Now()
				_ = b.router.Refresh(ctx)
				d.windowsNow()
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
	for _, repo := range b.order {
		if strings.EqualFold(repo.Owner, ev.Owner) && strings.EqualFold(repo.Name, ev.Repo) {
			d.mu.Lock()
			if s := d.schedulers[repo]; s != nil {
				s.Kick()
			}
			d.mu.Unlock()
			select {
			case d.rewatch <- repo:
			default:
			}
			b.log.Debug("push to the deploy branch", "repo", repo.String(), "after", ev.After)
		}
	}
	return nil
}
