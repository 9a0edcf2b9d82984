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
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-envconfig"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/command"
	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
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
	soft, what := memoryLimit(os.Getenv, os.ReadFile)
	if soft > 0 {
		debug.SetMemoryLimit(soft)
	}
	log.Info("memory", "limit", what)
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
	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			log.Error("listen for pprof", "addr", cfg.PprofAddr, "err", err)
			return 1
		}
		defer stop()
	}
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
		Kube: rc, Namespace: cfg.LeaderElectionNamespace, Name: cfg.LeaderElectionID,
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
	// catchUpNow asks the catch-up loop to look through a repository's
	// comments now (a comment's handling failed).
	catchUpNow chan forge.Repo
	// giteaBack tells the catch-up loop that Gitea answers again.
	giteaBack chan struct{}
	// watcher is the canary watcher running now, if any.
	watcher atomic.Pointer[canary.Watcher]
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
	d.catchUpNow = make(chan forge.Repo, 16)
	d.giteaBack = make(chan struct{}, 1)
	b.gitea.OnBack(d.retryNow)
	go b.gitea.Run(ctx)
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
		Handlers: webhook.Handlers{Push: d.onPush, PullRequest: d.onPullRequest},
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
	wc.Handlers.Comment = d.handleComment
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
	var flagger http.Handler = gate.FlaggerHandler{Gates: b.router, Token: string(b.cfg.GateToken), Logger: log}
	if d.elector != nil {
		flagger = leader.NewForwarder(d.elector, flagger, maxForwardedBody)
	}
	mux.Handle(gate.FlaggerPath, flagger)
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
	var wg sync.WaitGroup
	synced := make(chan struct{})
	caughtUp, protected := make(chan struct{}), make(chan struct{})
	wg.Go(func() { d.watch(ctx, sync.OnceFunc(func() { close(synced) })) })
	wg.Go(func() { d.reportWindows(ctx) })
	// Comment commands missed while this replica did not act are people
	// waiting: the catch-up starts at once. It goes through the
	// repositories one at a time.
	wg.Go(func() { d.catchUp(ctx, sync.OnceFunc(func() { close(caughtUp) })) })
	// The rest starts once the canary caches have synced, or after
	// startupGrace: no rollback can happen before they have, and at start
	// the schedulers' and branch protection's Gitea calls for every
	// repository at once would share Gitea with the watcher's policy reads
	// (at 100 repositories ready took 20 s with them all at once).
	select {
	case <-synced:
		// The rollbacks of canaries found Failed at sync go first.
		select {
		case <-time.After(rollbacksFirst):
		case <-ctx.Done():
		}
	case <-time.After(startupGrace):
		b.log.Warn("the canary caches have not synced yet; starting the schedulers anyway", "after", startupGrace)
	case <-ctx.Done():
	}
	var errs []error
	if ctx.Err() == nil {
		errs = d.startSchedulers(ctx)
		wg.Go(func() { b.protectBranches(ctx, sync.OnceFunc(func() { close(protected) })) })
		wg.Go(func() { d.watchSuspensions(ctx) })
		wg.Go(func() {
			// The first catch-up and branch-protection passes read every
			// repository's pull requests and rules: the start's last burst
			// of garbage. Hand it back to the system, as after the sync.
			for _, c := range []chan struct{}{caughtUp, protected} {
				select {
				case <-c:
				case <-ctx.Done():
					return
				}
			}
			debug.FreeOSMemory()
			b.log.Debug("start-up work done; memory handed back")
		})
	}
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

// startupGrace is how long act waits for the canary caches to sync before
// it starts the rest anyway (the API server may be down at start).
const startupGrace = 30 * time.Second

// rollbacksFirst is how long after the sync the rest waits, so that the
// rollbacks of canaries that failed while ensign was not acting reach
// Gitea before the start's burst of reads (a restart mid-burst reverted
// at p95 2.3 s without it, 1.5 s before the start-up order changed).
const rollbacksFirst = 2 * time.Second

// startSchedulers starts the window scheduler of every repository.
func (d *daemon) startSchedulers(ctx context.Context) []error {
	b := d.bot
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
		onChange := func(ctx context.Context, now time.Time) {
			// A freeze that ended leaves the policy file; the push that
			// removes it comes back as a webhook and replans. Only then is
			// the repository locked and fetched for it.
			if hasEnded(b.router.PolicyInForce(repo), now) {
				if out, err := svc.freeze.Expire(ctx); err != nil {
					b.log.Warn("remove ended freezes", "repo", repo.String(), "err", err)
				} else if out.Action == freeze.ActionExpired {
					b.log.Info("removed ended freezes", "repo", repo.String(), "commit", out.Commit, "count", len(out.Removed))
				}
			}
			if err := svc.gate.RefreshAll(ctx); err != nil {
				b.log.Warn("update the window gate", "repo", repo.String(), "err", err)
			}
		}
		s := schedule.New(src, svc.promote, schedule.Options{Clock: d.clock, Logger: b.log.With("repo", repo.String()), OnChange: onChange})
		if err := s.Start(ctx); err != nil {
			errs = append(errs, fmt.Errorf("start the scheduler of %s: %w", repo, err))
			continue
		}
		d.mu.Lock()
		d.schedulers[repo] = s
		d.mu.Unlock()
	}
	return errs
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
// leader is ready once its canary caches synced, while Gitea answers and
// every repository's policy could be read at the last attempt; a standby replica is ready
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
	var reasons []string
	if since, err, down := d.bot.gitea.Down(); down {
		reasons = append(reasons, fmt.Sprintf("cannot reach Gitea since %s (%v); retrying at once when it answers",
			since.UTC().Format(time.RFC3339), err))
	}
	if degraded := d.bot.router.Degraded(); len(degraded) > 0 {
		var names []string
		for repo := range degraded {
			names = append(names, repo.String())
		}
		sort.Strings(names)
		reasons = append(reasons, fmt.Sprintf("cannot read the policy of %s; acting on what was read before", strings.Join(names, ", ")))
	}
	if len(reasons) == 0 {
		return nil
	}
	return errors.New("degraded: " + strings.Join(reasons, "; "))
}

// onPullRequest keeps the window gate's status on a pull request that was
// opened, reopened or pushed to.
func (d *daemon) onPullRequest(ctx context.Context, ev webhook.PullRequestEvent) error {
	switch ev.Action {
	case "opened", "reopened", "synchronized", "edited":
	default:
		return nil
	}
	repo := forge.Repo{Owner: ev.Owner, Name: ev.Repo}
	if !d.bot.router.Manages(repo) {
		return nil
	}
	_, err := d.bot.router.GateRefresh(ctx, repo, ev.Number)
	return err
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
			if err := b.router.RefreshGates(ctx, repo); err != nil {
				b.log.Warn("update the window gate after a push", "repo", repo.String(), "err", err)
			}
		}
	}
	return nil
}

// hasEnded reports whether pol holds a freeze that has ended at now.
func hasEnded(pol *policy.Policy, now time.Time) bool {
	return pol != nil && slices.ContainsFunc(pol.Freezes, func(f policy.Freeze) bool { return f.Ended(now) })
}
