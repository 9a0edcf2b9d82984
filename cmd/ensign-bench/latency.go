package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// latencyOpts tune the latency benchmarks.
type latencyOpts struct {
	runs     int           // measured runs (a cold run comes first and is reported apart)
	settle   time.Duration // quiet time before each measured phase change
	interval time.Duration // pause between Gitea polls
	dir      string        // scratch directory
	bin      string        // ensign binary
	verbose  bool
	trace    bool // route ensign's Gitea traffic through a recording proxy
}

// latency is one benchmark's samples.
type latency struct {
	cold    time.Duration   // the first run, with ensign's caches cold
	samples []time.Duration // the measured runs, in order
	rtts    []time.Duration // round trips of every Gitea poll
	traces  []runTrace      // with latencyOpts.trace: ensign's requests per measured run
}

// newYear is a promotion window that never opens during a benchmark, so
// promotion PRs queue instead of merging.
const newYear = `  - name: new-year
    type: allow
    schedule: "0 0 1 1 *"
    duration: 1m
    timezone: UTC
`

// runEnsign starts ensign for env, behind a recording proxy when tracing.
func runEnsign(ctx context.Context, o latencyOpts, env *scenario.Env, name string) (*ensignRun, *tracer, error) {
	dir := filepath.Join(o.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	giteaURL := env.Gitea.URL
	var tr *tracer
	if o.trace {
		var err error
		if tr, err = startTracer(giteaURL); err != nil {
			return nil, nil, err
		}
		giteaURL = tr.url
	}
	run, err := startEnsign(ctx, o.bin, ensignConfig{
		giteaURL: giteaURL, token: env.Bot.Token, repo: env.Org + "/" + env.Repo,
		kubeconfigs: env.Kubeconfigs(), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ensign.log"),
	})
	if err != nil && tr != nil {
		tr.close()
	}
	return run, tr, err
}

// traced fills in the last run's requests once ensign is done with it, so
// that requests still in flight when the measurement ended are complete.
func (res *latency) traced(tr *tracer, i int) {
	if tr != nil && i > 0 {
		r := &res.traces[len(res.traces)-1]
		r.reqs = tr.between(r.start, r.end)
	}
}

// record adds one run's outcome to res.
func (res *latency) record(o latencyOpts, tr *tracer, what string, i int, start, end time.Time, rtts []time.Duration) {
	d := end.Sub(start)
	res.rtts = append(res.rtts, rtts...)
	if i == 0 {
		res.cold = d
	} else {
		res.samples = append(res.samples, d)
		if tr != nil {
			res.traces = append(res.traces, runTrace{start: start, took: d, end: end})
		}
	}
	if o.verbose {
		fmt.Fprintf(os.Stderr, "  %s run %2d: %v (%d polls)\n", what, i, d.Round(time.Millisecond), len(rtts))
	}
}

// benchRollback measures, per run, the time from the UpdateStatus that
// moves the production canary to Failed until Gitea's branch API shows
// ensign's revert as the head of main. Each run first has a person push a
// new version straight to the production overlay (Flux applies it, the
// canary goes Progressing), so each Failed is a fresh failure of a fresh
// commit.
func benchRollback(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o latencyOpts) (latency, error) {
	var res latency
	env, err := scenario.Setup(ctx, g, k, scenario.Options{Prefix: harness.UniqueName("rb") + "-"})
	if err != nil {
		return res, err
	}
	run, tr, err := runEnsign(ctx, o, env, env.Org)
	if err != nil {
		return res, err
	}
	defer run.stop()
	if tr != nil {
		defer tr.close()
	}
	api := newGiteaAPI(g.URL, env.Org, env.Repo, env.Dev.Token)
	var last time.Time
	for i := 0; i <= o.runs; i++ {
		tag := fmt.Sprintf("6.6.%d", i+1)
		sha, err := env.PushVersion(ctx, env.Production, tag)
		if err != nil {
			return res, err
		}
		if _, err := env.FluxApply(ctx, env.Production); err != nil {
			return res, err
		}
		if err := env.StartAnalysis(ctx, env.Production); err != nil {
			return res, err
		}
		time.Sleep(o.settle)
		// ensign tells failures of one canary apart by their transition
		// time in whole seconds.
		if next := last.Truncate(time.Second).Add(time.Second); time.Now().Before(next) {
			time.Sleep(time.Until(next))
		}
		start, err := env.FinishAnalysis(ctx, env.Production, false)
		if err != nil {
			return res, err
		}
		last = start
		end, rtts, err := poll(ctx, o.interval, time.Minute, api.revertOnMain(sha))
		if err != nil {
			return res, fmt.Errorf("run %d: wait for the revert on main: %w (ensign: %v)\n%s", i, err, run.alive(), tail(run.log, 15))
		}
		res.record(o, tr, "rollback", i, start, end, rtts)
		// Let ensign finish (comment, Flux, event) before the next run.
		err = scenario.Wait(ctx, time.Minute, "ensign's rollback event", func() (bool, error) {
			n, err := env.EnsignEvents(ctx, env.Production, "Rollback")
			return n >= i+1, err
		})
		if err != nil {
			return res, err
		}
		res.traced(tr, i)
	}
	return res, run.stop()
}

// benchPromote measures, per run, the time from the UpdateStatus that moves
// the staging canary to Succeeded until Gitea's API shows ensign's
// promotion pull request. Each run has CI release a new version to staging
// first (Flux applies it, the canary goes Progressing).
func benchPromote(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o latencyOpts) (latency, error) {
	var res latency
	env, err := scenario.Setup(ctx, g, k, scenario.Options{
		Prefix: harness.UniqueName("pr") + "-", Windows: newYear, ProductionWindows: []string{"new-year"},
	})
	if err != nil {
		return res, err
	}
	run, tr, err := runEnsign(ctx, o, env, env.Org)
	if err != nil {
		return res, err
	}
	defer run.stop()
	if tr != nil {
		defer tr.close()
	}
	api := newGiteaAPI(g.URL, env.Org, env.Repo, env.Dev.Token)
	number, err := api.lastPull(ctx)
	if err != nil {
		return res, err
	}
	for i := 0; i <= o.runs; i++ {
		tag := fmt.Sprintf("7.0.%d", i+1)
		number++
		if _, err := env.ReleaseToStaging(ctx, tag); err != nil {
			return res, err
		}
		if _, err := env.FluxApply(ctx, env.Staging); err != nil {
			return res, err
		}
		if err := env.StartAnalysis(ctx, env.Staging); err != nil {
			return res, err
		}
		time.Sleep(o.settle)
		start, err := env.FinishAnalysis(ctx, env.Staging, true)
		if err != nil {
			return res, err
		}
		var pr pull
		end, rtts, err := poll(ctx, o.interval, time.Minute, func(ctx context.Context) (bool, error) {
			p, found, err := api.pull(ctx, number)
			pr = p
			return found, err
		})
		if err != nil {
			return res, fmt.Errorf("run %d: wait for promotion PR #%d: %w (ensign: %v)\n%s", i, number, err, run.alive(), tail(run.log, 15))
		}
		if !strings.Contains(pr.Body, scenario.Image+":"+tag) {
			return res, fmt.Errorf("run %d: PR #%d is not the promotion of %s: %q", i, number, tag, pr.Title)
		}
		res.record(o, tr, "promote", i, start, end, rtts)
		// Let ensign finish (labels, status comment, superseded PRs, event).
		err = scenario.Wait(ctx, time.Minute, "ensign's promotion event", func() (bool, error) {
			n, err := env.EnsignEvents(ctx, env.Staging, "Promotion")
			return n >= i+1, err
		})
		if err != nil {
			return res, err
		}
		res.traced(tr, i)
	}
	return res, run.stop()
}
