package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/ensignbot/ensign/canary"
	"github.com/ensignbot/ensign/metrics"
)

// suspensionsEvery is how often the Flux suspension of each stage is read.
const suspensionsEvery = 15 * time.Second

// watchSuspensions notices a stage's Flux Kustomization being suspended or
// resumed (flux suspend/resume kustomization): the window gate's statuses
// follow, and queued promotions go as soon as Flux resumes.
func (d *daemon) watchSuspensions(ctx context.Context) {
	b := d.bot
	last := map[string]bool{} // repo/app/stage -> suspended
	for {
		sweep := b.clusters.Sweep() // one listing per cluster for every stage
		for _, repo := range b.order {
			pol := b.router.PolicyInForce(repo)
			if pol == nil {
				continue
			}
			changed, resumed := false, false
			for ai := range pol.Apps {
				for si := range pol.Apps[ai].Stages {
					st := &pol.Apps[ai].Stages[si]
					if st.Flux == nil && !pol.Gated(st) {
						continue // nothing gates it; no Kustomization named
					}
					refs, err := sweep.Suspended(ctx, st)
					if err != nil {
						continue // logged where it matters (gate, promote)
					}
					key := repo.String() + "/" + pol.Apps[ai].Name + "/" + st.Name
					now := len(refs) > 0
					if was, seen := last[key]; seen && was != now {
						changed = true
						resumed = resumed || !now
						b.log.Info("Flux suspension changed", "repo", repo.String(), "app", pol.Apps[ai].Name, "stage", st.Name, "suspended", now)
					}
					last[key] = now
				}
			}
			if changed {
				if err := b.router.RefreshGates(ctx, repo); err != nil {
					b.log.Warn("update the window gate", "repo", repo.String(), "err", err)
				}
			}
			if resumed {
				d.mu.Lock()
				if s := d.schedulers[repo]; s != nil {
					s.MergeNow()
				}
				d.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(suspensionsEvery):
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
					ws = append(ws, metrics.Window{App: a.Name, Stage: a.Stages[i].Name, Open: pol.StageOpen(&a.Stages[i], now)})
				}
			}
		}
		b.metrics.SetWindows(repo.String(), ws)
	}
}

// refreshEvery is how often the router re-reads the policies while one of
// them cannot be read.
const refreshEvery = 5 * time.Second

// watch runs the canary watcher over the namespaces the router's index
// names, and restarts it when that set changes. It re-reads the policies
// every resync period (a push webhook may have been lost), and every few
// seconds while one of them cannot be read. synced is called each time a
// watcher's caches have synced.
func (d *daemon) watch(ctx context.Context, synced func()) {
	b := d.bot
	if err := b.router.Refresh(ctx); err != nil {
		b.log.Warn("some policies could not be read at start; watching what could be read, retrying", "err", err)
	}
	d.windowsNow()
	for ctx.Err() == nil {
		clusters, key := b.watchedClusters()
		wctx, cancel := context.WithCancel(ctx)
		w := canary.NewWatcher(clusters, b.router, canary.Options{Workers: b.cfg.Workers, Resync: b.cfg.Resync, Logger: b.log})
		d.watcher.Store(w)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		go func() {
			for wctx.Err() == nil && !w.Synced() {
				time.Sleep(20 * time.Millisecond)
			}
			if !w.Synced() {
				return
			}
			// The initial listing decoded every canary the informers see
			// (all of a cluster's, for a cluster-wide one) and left the
			// heap several times what the caches keep; hand that back to
			// the system now instead of over minutes.
			debug.FreeOSMemory()
			synced()
			if !d.ready.Swap(true) {
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
		d.watcher.CompareAndSwap(w, nil)
	}
}

// retryNow runs when Gitea answers again after an outage: canary results
// and missed comment commands whose handling failed meanwhile are retried
// at once, not when their backoff ends.
func (d *daemon) retryNow() {
	if w := d.watcher.Load(); w != nil {
		w.RetryNow()
	}
	select {
	case d.giteaBack <- struct{}{}:
	default: // already told
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
