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
	trace    bool // route ensign's Gitea traffic through a recording proxy
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

// probes is how many single failures are measured on the idle bot, and
// again during the burst of promotions.
const probes = 5

// burstRun is one run of the burst benchmark.
type burstRun struct {
	rollbacks, promotions burstResult
	// idle and busy are single failures' own phase write -> revert on
	// main: one at a time on the idle bot, and during the promotions.
	idle, busy []time.Duration
	// traces are ensign's requests to Gitea during each burst (-trace).
	traces []burstTrace
}

// burstTrace is what ensign asked Gitea during one burst.
type burstTrace struct {
	name string
	run  runTrace
}

// benchBurst makes size production canaries of one repository fail at once
// and then size staging canaries succeed at once, with `ensign run`
// watching, and measures when each revert is on main and each promotion
// pull request exists.
//
// Around them, probes single failures are measured one at a time on the
// idle bot, and probes more while the promotions of the second burst are
// being handled: a rollback must not wait behind promotions.
func benchBurst(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o burstOpts) (res burstRun, err error) {
	start := time.Now()
	live := 2 * (o.size + 2*probes)
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{
		Prefix: harness.UniqueName("b") + "-", Namespaces: 2, PerNamespace: live, Live: live,
	})
	if err != nil {
		return res, err
	}
	promoting, failing := f.LiveApps()
	promoting = promoting[:o.size]
	hotfixes, err := f.PrepareFailures(ctx, failing, "6.6.6")
	if err != nil {
		return res, err
	}
	if err := f.PrepareSuccesses(ctx, promoting, "1.1.0"); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "  fleet of %d apps set up in %v\n", len(f.Apps), time.Since(start).Round(time.Second))

	dir := filepath.Join(o.dir, f.Org)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	giteaURL := g.URL
	var tr *tracer
	if o.trace {
		if tr, err = startTracer(g.URL); err != nil {
			return res, err
		}
		defer tr.close()
		giteaURL = tr.url
	}
	traced := func(name string, from time.Time) {
		if tr != nil {
			res.traces = append(res.traces, burstTrace{name, runTrace{start: from, end: time.Now(), reqs: tr.between(from, time.Now())}})
		}
	}
	run, err := startEnsign(ctx, o.bin, ensignConfig{
		giteaURL: giteaURL, token: f.Bot.Token, repo: f.Org + "/" + f.Repo,
		kubeconfigs: f.Kubeconfigs(), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ensign.log"),
	})
	if err != nil {
		return res, err
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
	reverts, err := newRevertWatch(ctx, api, hotfixes)
	if err != nil {
		return res, err
	}
	idleProbes, busyProbes := failing[o.size:o.size+probes], failing[o.size+probes:]
	if res.idle, err = probeReverts(ctx, f, reverts, idleProbes, o.size, o); err != nil {
		return res, fmt.Errorf("failures on the idle bot: %w", err)
	}
	rollbackStart := time.Now()
	res.rollbacks, err = measureBurst(ctx, f, failing[:o.size], true, o, func(ctx context.Context, seen func(i int)) (bool, error) {
		return false, reverts.poll(ctx, func(i int) {
			if i < o.size { // not a probe
				seen(i)
			}
		})
	})
	res.rollbacks.moves = reverts.moves
	traced("Failed -> revert on main", rollbackStart)
	if err != nil {
		return res, fmt.Errorf("rollback burst: %w", err)
	}
	if err := run.alive(); err != nil {
		return res, err
	}

	// Promotions: a promotion is visible once an open pull request's title
	// names the app.
	index := map[string]int{}
	for i, a := range promoting {
		index[a.Name] = i
	}
	promotionStart := time.Now()
	busy := make(chan error, 1)
	go func() {
		// Once the promotions are under way, fail the probes one by one.
		time.Sleep(time.Second)
		var err error
		res.busy, err = probeReverts(ctx, f, reverts, busyProbes, o.size+probes, o)
		busy <- err
	}()
	res.promotions, err = measureBurst(ctx, f, promoting, false, o, func(ctx context.Context, seen func(i int)) (bool, error) {
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
	if berr := <-busy; berr != nil && err == nil {
		err = fmt.Errorf("failures during the promotions: %w", berr)
	}
	traced("Succeeded -> promotion PR open (and the probes' reverts)", promotionStart)
	if err != nil {
		return res, fmt.Errorf("promotion burst: %w", err)
	}
	return res, run.alive()
}

// revertWatch follows main and finds the reverts of known commits.
type revertWatch struct {
	mu    sync.Mutex
	api   *giteaAPI
	want  map[string]int // reverted commit -> index
	tip   string
	moves int // how often main moved
	seen  map[int]bool
}

func newRevertWatch(ctx context.Context, api *giteaAPI, reverted []string) (*revertWatch, error) {
	w := &revertWatch{api: api, want: map[string]int{}, seen: map[int]bool{}}
	for i, sha := range reverted {
		w.want[sha] = i
	}
	h, err := api.head(ctx, "main")
	if err != nil {
		return nil, err
	}
	w.tip = h.Commit.ID
	return w, nil
}

// poll reads the commits main gained since the last poll and calls seen
// with the index of every reverted commit among them; a revert seen by an
// earlier poll (of another caller) is reported again.
func (w *revertWatch) poll(ctx context.Context, seen func(i int)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	h, err := w.api.head(ctx, "main")
	if err != nil {
		return err
	}
	if h.Commit.ID != w.tip {
		commits, err := w.api.commitsSince(ctx, h.Commit.ID, w.tip)
		if err != nil {
			return err
		}
		w.tip = h.Commit.ID
		w.moves++
		for _, c := range commits {
			if _, sha, ok := strings.Cut(c.Commit.Message, "This reverts commit "); ok && len(sha) >= 40 {
				if i, ok := w.want[sha[:40]]; ok {
					w.seen[i] = true
				}
			}
		}
	}
	for i := range w.seen {
		seen(i)
	}
	return nil
}

// probeReverts fails apps one at a time (apps[j] is hotfix index base+j)
// and measures each one's phase write -> its revert on main.
func probeReverts(ctx context.Context, f *scenario.Fleet, w *revertWatch, apps []scenario.FleetApp, base int, o burstOpts) ([]time.Duration, error) {
	var out []time.Duration
	for j, a := range apps {
		if err := f.Fail(ctx, a); err != nil {
			return out, err
		}
		sent := time.Now()
		_, _, err := poll(ctx, o.interval, o.limit, func(ctx context.Context) (bool, error) {
			found := false
			err := w.poll(ctx, func(i int) { found = found || i == base+j })
			return found, err
		})
		if err != nil {
			return out, fmt.Errorf("revert of %s: %w", a.Name, err)
		}
		out = append(out, time.Since(sent))
	}
	return out, nil
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

// runBurst runs the burst benchmark repeat times and prints its tables.
func runBurst(ctx context.Context, w io.Writer, g *harness.GiteaServer, k *harness.KubeServer, repeat int, o burstOpts) error {
	rows := [][]string{{"burst, repetition", "visible / n", "phase writes took ms", "first visible ms", "p50 ms", "p95 ms", "all visible ms", "own write -> visible p50 ms", "main moved"}}
	var idle, busy []time.Duration
	var traces []burstTrace
	for r := 1; r <= repeat; r++ {
		fmt.Fprintf(os.Stderr, "burst: repetition %d of %d, %d failures then %d successes ...\n", r, repeat, o.size, o.size)
		run, err := benchBurst(ctx, g, k, o)
		if err != nil {
			return fmt.Errorf("burst: %w", err)
		}
		idle, busy = append(idle, run.idle...), append(busy, run.busy...)
		traces = append(traces, run.traces...)
		for _, b := range []struct {
			name string
			res  burstResult
		}{{"Failed -> revert on main", run.rollbacks}, {"Succeeded -> promotion PR open", run.promotions}} {
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

	for _, t := range traces {
		fmt.Fprintf(w, "ensign's requests to Gitea during the burst %q:\n\n", t.name)
		printKinds(w, []runTrace{t.run})
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "### A single Failed -> its revert on main: on the idle bot, and during the burst of %d promotions\n\n", o.size)
	i, b := summarize(idle), summarize(busy)
	table(w, [][]string{
		{"bot", "n", "min ms", "p50 ms", "p95 ms", "max ms"},
		{"idle", fmt.Sprint(len(idle)), ms(i.Min), ms(i.P50), ms(i.P95), ms(i.Max)},
		{"during the promotions", fmt.Sprint(len(busy)), ms(b.Min), ms(b.P50), ms(b.P95), ms(b.Max)},
	})
	if i.P50 > 0 {
		fmt.Fprintf(w, "\np50 during / p50 idle: %.2fx; p50 during - p50 idle: %s ms (%d probes of each per repetition, one at a time)\n\n", float64(b.P50)/float64(i.P50), ms(b.P50-i.P50), probes)
	}
	return nil
}
