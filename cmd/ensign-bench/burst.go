package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/scenario"
)

// burstOpts tune the burst benchmark.
type burstOpts struct {
	size     int           // canaries that fail (and, separately, succeed) at once
	width    int           // writers of the phase changes
	limit    time.Duration // how long to wait for a burst's results
	interval time.Duration
	dir, bin string
}

// burstResult is one burst: when each app's result became visible in
// Gitea, measured from the first phase change written.
type burstResult struct {
	sent    time.Duration   // time to write every phase change
	visible []time.Duration // per app, first phase write -> visible
	// own is, per app, its own phase write -> visible.
	own []time.Duration
	// moves is how often main's head moved (rollbacks: pushes that landed).
	moves int
	// missing is how many results were not visible after the limit.
	missing int
}

// benchBurst makes size production canaries of one repository fail at once
// and then size staging canaries succeed at once, with `ensign run`
// watching, and measures when each revert is on main and each promotion
// pull request exists.
func benchBurst(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o burstOpts) (rollbacks, promotions burstResult, err error) {
	start := time.Now()
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{
		Prefix: harness.UniqueName("b") + "-", Namespaces: 2, PerNamespace: 2 * o.size, Live: 2 * o.size,
	})
	if err != nil {
		return rollbacks, promotions, err
	}
	promoting, failing := f.LiveApps()
	hotfixes, err := f.PrepareFailures(ctx, failing, "6.6.6")
	if err != nil {
		return rollbacks, promotions, err
	}
	if err := f.PrepareSuccesses(ctx, promoting, "1.1.0"); err != nil {
		return rollbacks, promotions, err
	}
	fmt.Fprintf(os.Stderr, "  fleet of %d apps set up in %v\n", len(f.Apps), time.Since(start).Round(time.Second))

	dir := filepath.Join(o.dir, f.Org)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rollbacks, promotions, err
	}
	run, err := startEnsign(ctx, o.bin, ensignConfig{
		giteaURL: g.URL, token: f.Bot.Token, repo: f.Org + "/" + f.Repo,
		kubeconfigs: f.Kubeconfigs(), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ensign.log"),
	})
	if err != nil {
		return rollbacks, promotions, err
	}
	defer run.stop()
	defer func() {
		if err != nil { // keep ensign's log: the bench's directory is removed on exit
			kept := filepath.Join(os.TempDir(), "ensign-bench-"+f.Org+".log")
			if data, rerr := os.ReadFile(run.log); rerr == nil && os.WriteFile(kept, data, 0o644) == nil {
				err = fmt.Errorf("%w (ensign's log: %s)", err, kept)
			}
		}
	}()
	api := newGiteaAPI(g.URL, f.Org, f.Repo, f.Dev.Token)

	// Rollbacks: a revert is visible once main's history has a commit
	// saying "This reverts commit <the app's hotfix>".
	want := map[string]int{}
	for i, sha := range hotfixes {
		want[sha] = i
	}
	tip, err := api.head(ctx, "main")
	if err != nil {
		return rollbacks, promotions, err
	}
	moves := 0
	rollbacks, err = measureBurst(ctx, f, failing, true, o, func(ctx context.Context, seen func(i int)) (bool, error) {
		h, err := api.head(ctx, "main")
		if err != nil || h.Commit.ID == tip.Commit.ID {
			return false, err
		}
		commits, err := api.commitsSince(ctx, h.Commit.ID, tip.Commit.ID)
		if err != nil {
			return false, err
		}
		tip = h
		moves++
		for _, c := range commits {
			if _, sha, ok := strings.Cut(c.Commit.Message, "This reverts commit "); ok && len(sha) >= 40 {
				if i, ok := want[sha[:40]]; ok {
					seen(i)
				}
			}
		}
		return false, nil
	})
	rollbacks.moves = moves
	if err != nil {
		return rollbacks, promotions, fmt.Errorf("rollback burst: %w", err)
	}
	if err := run.alive(); err != nil {
		return rollbacks, promotions, err
	}

	// Promotions: a promotion is visible once an open pull request's title
	// names the app.
	index := map[string]int{}
	for i, a := range promoting {
		index[a.Name] = i
	}
	promotions, err = measureBurst(ctx, f, promoting, false, o, func(ctx context.Context, seen func(i int)) (bool, error) {
		prs, err := api.openPulls(ctx)
		for _, p := range prs {
			for _, word := range strings.Fields(p.Title) {
				if i, ok := index[strings.Trim(word, ",:")]; ok {
					seen(i)
				}
			}
		}
		return false, err
	})
	if err != nil {
		return rollbacks, promotions, fmt.Errorf("promotion burst: %w", err)
	}
	return rollbacks, promotions, run.alive()
}

// measureBurst writes the final phase of every app on o.width writers and
// polls until probe has seen every app's result.
func measureBurst(ctx context.Context, f *scenario.Fleet, apps []scenario.FleetApp, fail bool, o burstOpts, probe func(context.Context, func(i int)) (bool, error)) (burstResult, error) {
	res := burstResult{visible: make([]time.Duration, len(apps)), own: make([]time.Duration, len(apps))}
	var mu sync.Mutex
	sentAt := make([]time.Time, len(apps))
	seenAt := make([]time.Time, len(apps))
	left := len(apps)
	start := time.Now()
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- f.EachFinal(ctx, apps, fail, o.width, func(i int) {
			mu.Lock()
			sentAt[i] = time.Now()
			mu.Unlock()
		})
	}()
	var werr error
	written := false
	_, _, err := poll(ctx, o.interval, o.limit, func(ctx context.Context) (bool, error) {
		if !written {
			select {
			case werr = <-writeErr:
				written = true
				res.sent = time.Since(start)
			default:
			}
			if werr != nil {
				return false, werr
			}
		}
		now := time.Now()
		_, err := probe(ctx, func(i int) {
			if seenAt[i].IsZero() {
				seenAt[i] = now
				left--
			}
		})
		return left == 0 && written, err
	})
	if err != nil && (werr != nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
		return res, fmt.Errorf("%d of %d results not visible: %w", left, len(apps), err)
	}
	res.visible, res.own, res.missing = res.visible[:0], res.own[:0], left
	for i := range apps {
		if !seenAt[i].IsZero() {
			res.visible = append(res.visible, seenAt[i].Sub(start))
			res.own = append(res.own, seenAt[i].Sub(sentAt[i]))
		}
	}
	return res, nil
}

// runBurst runs the burst benchmark repeat times and prints its table.
func runBurst(ctx context.Context, w io.Writer, g *harness.GiteaServer, k *harness.KubeServer, repeat int, o burstOpts) error {
	rows := [][]string{{"burst, repetition", "visible / n", "phase writes took ms", "first visible ms", "p50 ms", "p95 ms", "all visible ms", "own write -> visible p50 ms", "main moved"}}
	for r := 1; r <= repeat; r++ {
		fmt.Fprintf(os.Stderr, "burst: repetition %d of %d, %d failures then %d successes ...\n", r, repeat, o.size, o.size)
		rb, pr, err := benchBurst(ctx, g, k, o)
		if err != nil {
			return fmt.Errorf("burst: %w", err)
		}
		for _, b := range []struct {
			name string
			res  burstResult
		}{{"Failed -> revert on main", rb}, {"Succeeded -> promotion PR open", pr}} {
			s, own := summarize(b.res.visible), summarize(b.res.own)
			moved := ""
			if b.res.moves > 0 {
				moved = fmt.Sprint(b.res.moves)
			}
			rows = append(rows, []string{fmt.Sprintf("%s, %d", b.name, r), fmt.Sprintf("%d / %d", len(b.res.visible), len(b.res.visible)+b.res.missing), ms(b.res.sent),
				ms(s.Min), ms(s.P50), ms(s.P95), ms(s.Max), ms(own.P50), moved})
		}
	}
	fmt.Fprintf(w, "### Bursts: %d production canaries of one repository Failed at once, then %d staging canaries Succeeded (%d writers)\n\n", o.size, o.size, o.width)
	table(w, rows)
	fmt.Fprintf(w, "\ntimes from the first phase write; Gitea polled every %v + round trip; results not visible within %v are left out of the times\n\n", o.interval, o.limit)
	return nil
}
