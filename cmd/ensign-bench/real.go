package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// realOpts tune the benchmark on the real controllers.
type realOpts struct {
	runs     int // failures measured in all
	apps     int // sample setups failing side by side, each with its own repository and ensign
	interval time.Duration
	dir, bin string
	verbose  bool
}

// realRun is one failure on the real controllers.
type realRun struct {
	app      int
	reverted time.Duration // Flagger's Failed seen -> the revert is the head of main
	applied  time.Duration // Flagger's Failed seen -> kustomize-controller applied the revert
}

// runReal starts the real Flux and Flagger (with kube-controller-manager,
// kube-scheduler and kwok) on a new API server and the benchmark's Gitea, measures ro.runs
// failures and prints the table.
func runReal(ctx context.Context, w io.Writer, g *harness.GiteaServer, ro realOpts) error {
	// An API server of its own: the other benchmarks' played canaries and
	// Flux objects stay out of the real controllers' way.
	fmt.Fprintln(os.Stderr, "real: starting a kube-apiserver, kube-controller-manager, kube-scheduler, kwok, Flagger and Flux ...")
	k, err := harness.StartKube(ctx)
	if err != nil {
		return err
	}
	defer k.Stop()
	wl, err := harness.StartWorkloads(ctx, k, harness.WorkloadOptions{})
	if err != nil {
		return err
	}
	defer wl.Stop()
	fl, err := harness.StartFlagger(ctx, k, harness.FlaggerOptions{})
	if err != nil {
		return err
	}
	defer fl.Stop()
	fx, err := harness.StartFlux(ctx, k, harness.FluxOptions{})
	if err != nil {
		return err
	}
	defer fx.Stop()
	gate, err := scenario.StartGate()
	if err != nil {
		return err
	}
	defer gate.Close()

	per := (ro.runs + ro.apps - 1) / ro.apps
	var (
		mu   sync.Mutex
		runs []realRun
		wg   sync.WaitGroup
		errs = make([]error, ro.apps)
	)
	for a := range ro.apps {
		wg.Go(func() {
			errs[a] = realApp(ctx, g, k, gate, ro, a, per, func(r realRun) {
				mu.Lock()
				defer mu.Unlock()
				runs = append(runs, r)
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("real: %w", err)
	}
	var reverted, applied []time.Duration
	for _, r := range runs {
		reverted = append(reverted, r.reverted)
		applied = append(applied, r.applied)
	}
	fmt.Fprintf(w, "### Real Flagger Failed -> revert on main -> real Flux applied it (%d apps side by side, each with its own repository and `ensign run`)\n\n", ro.apps)
	table(w, [][]string{latencyHeader,
		latencyRow("Failed -> revert is the head of main", summarize(reverted)),
		latencyRow("Failed -> kustomize-controller applied the revert", summarize(applied)),
	})
	fmt.Fprintf(w, "\nwithout ensign: Git keeps the failed version until a person reverts it; Flux re-applies it at every interval (10 m in the sample's production). Failed is when a 20 ms poll of the Canary first saw it.\n\n")
	return nil
}

// realApp sets up one sample app on the real controllers with its own
// ensign, and measures n failures: each pushes a new version straight to the
// production overlay, asks Flux to fetch, and lets the real Flagger's
// analysis fail at the gate.
func realApp(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, gate *scenario.Gate, ro realOpts, app, n int, record func(realRun)) error {
	env, err := scenario.Setup(ctx, g, k, scenario.Options{Prefix: harness.UniqueName("real") + "-", Gate: gate})
	if err != nil {
		return err
	}
	gate.Fail(env.Production.Namespace, true)
	run, _, err := runEnsign(ctx, latencyOpts{dir: ro.dir, bin: ro.bin}, env, env.Org)
	if err != nil {
		return err
	}
	defer run.stop()
	api := newGiteaAPI(g.URL, env.Org, env.Repo, env.Dev.Token)
	for i := range n {
		tag := fmt.Sprintf("6.7.%d", i+1)
		sha, err := env.PushVersion(ctx, env.Production, tag)
		if err != nil {
			return err
		}
		if err := env.Reconcile(ctx); err != nil {
			return err
		}
		if err := env.WaitApplied(ctx, env.Production, sha, time.Minute); err != nil {
			return err
		}
		// Flagger leaves Failed (or Initialized) for the new revision's
		// analysis, then fails it.
		if err := env.WaitPhase(ctx, env.Production, flaggerv1.CanaryPhaseProgressing, time.Minute); err != nil {
			return err
		}
		if _, _, err := poll(ctx, 20*time.Millisecond, 3*time.Minute, func(ctx context.Context) (bool, error) {
			c, err := env.Canary(ctx, env.Production)
			return err == nil && c.Status.Phase == flaggerv1.CanaryPhaseFailed, err
		}); err != nil {
			return fmt.Errorf("app %d run %d: wait for Failed: %w", app, i, err)
		}
		failed := time.Now()
		var revert string
		reverted, _, err := poll(ctx, ro.interval, time.Minute, func(ctx context.Context) (bool, error) {
			h, err := api.head(ctx, "main")
			if err != nil || h.Commit.ID == sha {
				return false, err
			}
			if !strings.Contains(h.Commit.Message, "This reverts commit "+sha) {
				return false, fmt.Errorf("main moved to %s, which is not the revert of %s: %q", h.Commit.ID, sha, h.Commit.Message)
			}
			revert = h.Commit.ID
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("app %d run %d: wait for the revert: %w (ensign: %v)\n%s", app, i, err, run.alive(), tail(run.log, 15))
		}
		applied, _, err := poll(ctx, ro.interval, time.Minute, func(ctx context.Context) (bool, error) {
			got, err := env.Applied(ctx, env.Production)
			return got == revert, err
		})
		if err != nil {
			return fmt.Errorf("app %d run %d: wait for Flux to apply the revert %s: %w", app, i, revert, err)
		}
		r := realRun{app: app, reverted: reverted.Sub(failed), applied: applied.Sub(failed)}
		if ro.verbose {
			fmt.Fprintf(os.Stderr, "  real app %d run %2d: revert %v, applied %v\n", app, i, r.reverted.Round(time.Millisecond), r.applied.Round(time.Millisecond))
		}
		record(r)
	}
	return run.stop()
}
