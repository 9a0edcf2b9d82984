package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// memoryOpts tune the memory benchmark.
type memoryOpts struct {
	namespaces, perNamespace int
	burst                    int // Progressing phase changes, one per canary
	live                     int // apps whose final phases are acted on (half promote, half roll back)
	idle                     time.Duration
	memLimit                 string // GOMEMLIMIT for ensign, if set
	dir, bin                 string
}

// memPoint is ensign's memory at one moment of the benchmark.
type memPoint struct {
	label string
	mem   ensignproc.Memory
	heap  gcLine // the Go heap at the last GC before the reading
}

// memResult is the memory benchmark's outcome.
type memResult struct {
	canaries, namespaces int
	setup, ready         time.Duration
	burstSent            time.Duration // time to write the burst's phase changes
	finalHandled         time.Duration // time until every final phase was acted on
	// promoted and rolledBack are, per app, when ensign's event says it
	// was done, after the burst began (whole seconds).
	promoted, rolledBack []time.Duration
	points               []memPoint
	maxRSS               int64 // highest VmRSS sampled every 100 ms
}

// benchMemory runs `ensign run` over a fleet of canaries and reads its
// resident memory idle after the initial sync, after a burst of Progressing
// phase changes, and after a burst of final phases that ensign acts on.
func benchMemory(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o memoryOpts) (memResult, error) {
	var res memResult
	start := time.Now()
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{
		Prefix: harness.UniqueName("m") + "-", Namespaces: o.namespaces, PerNamespace: o.perNamespace, Live: o.live,
	})
	if err != nil {
		return res, err
	}
	res.canaries, res.namespaces = 2*len(f.Apps), o.namespaces
	promoting, failing := f.LiveApps()
	if err := f.PrepareFinals(ctx, "1.1.0"); err != nil {
		return res, err
	}
	res.setup = time.Since(start)
	fmt.Fprintf(os.Stderr, "  fleet: %d canaries in %d namespaces, set up in %v\n", res.canaries, o.namespaces, res.setup.Round(time.Second))

	dir := filepath.Join(o.dir, f.Org)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	start = time.Now()
	run, err := startEnsign(ctx, o.bin, ensignConfig{
		giteaURL: g.URL, token: f.Bot.Token, repo: f.Org + "/" + f.Repo,
		kubeconfigs: f.Kubeconfigs(), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ensign.log"),
		gctrace: true, memLimit: o.memLimit,
	})
	if err != nil {
		return res, err
	}
	defer run.stop()
	res.ready = time.Since(start)

	peak := run.samplePeak(ctx)
	defer peak()
	read := func(label string) error {
		m, err := run.memory()
		if err != nil {
			return err
		}
		res.points = append(res.points, memPoint{label: label, mem: m, heap: lastGC(run.log)})
		return nil
	}
	if err := read("ready (caches synced)"); err != nil {
		return res, err
	}
	time.Sleep(o.idle)
	if err := read(fmt.Sprintf("idle, %v after sync", o.idle)); err != nil {
		return res, err
	}

	// A burst of Progressing phase changes over canaries ensign will not
	// act on, spread over every namespace.
	start = time.Now()
	n, err := f.Burst(ctx, o.burst, flaggerv1.CanaryPhaseProgressing)
	if err != nil {
		return res, err
	}
	res.burstSent = time.Since(start)
	time.Sleep(o.idle)
	if err := read(fmt.Sprintf("%d Progressing changes, %v later", n, o.idle)); err != nil {
		return res, err
	}

	// The final burst: staging Succeeded (promotion PRs) and production
	// Failed (reverts pushed to main), all at once.
	start = time.Now()
	if err := f.Finals(ctx); err != nil {
		return res, err
	}
	for _, a := range promoting {
		at, err := waitEvent(ctx, f, a, a.Staging, "Promotion", run)
		if err != nil {
			return res, err
		}
		res.promoted = append(res.promoted, at.Sub(start.Truncate(time.Second)))
	}
	for _, a := range failing {
		at, err := waitEvent(ctx, f, a, a.Production, "Rollback", run)
		if err != nil {
			return res, err
		}
		res.rolledBack = append(res.rolledBack, at.Sub(start.Truncate(time.Second)))
	}
	res.finalHandled = time.Since(start)
	if err := read(fmt.Sprintf("%d Succeeded + %d Failed acted on", len(promoting), len(failing))); err != nil {
		return res, err
	}
	time.Sleep(o.idle)
	if err := read(fmt.Sprintf("idle, %v after that", o.idle)); err != nil {
		return res, err
	}
	res.maxRSS = peak()
	return res, run.stop()
}

// peak is the highest resident memory seen: the kernel's high-water mark
// at any reading, or the highest sampled VmRSS (the kernel's counters are
// approximate, so either can be the larger by a fraction of a MiB).
func (r memResult) peak() int64 {
	p := r.maxRSS
	for _, pt := range r.points {
		p = max(p, pt.mem.HWM)
	}
	return p
}

// waitEvent waits for ensign's event on a canary and returns its time.
func waitEvent(ctx context.Context, f *scenario.Fleet, a scenario.FleetApp, s scenario.Stage, reason string, run *ensignRun) (time.Time, error) {
	var at time.Time
	err := scenario.Wait(ctx, 5*time.Minute, fmt.Sprintf("ensign's %s event on %s/%s", reason, s.Namespace, a.Name), func() (bool, error) {
		if err := run.alive(); err != nil {
			return false, err
		}
		t, ok, err := f.EnsignEventAt(ctx, a, s, reason)
		at = t
		return ok, err
	})
	if err != nil {
		return at, fmt.Errorf("%w\n%s", err, tail(run.log, 15))
	}
	return at, nil
}

// gcLine is the heap part of the last GODEBUG=gctrace=1 line: heap at GC
// start, at GC end, live after GC, and the next goal (MB).
type gcLine struct {
	N                         int
	Start, End, Live, GoalMiB int
}

var gcRe = regexp.MustCompile(`gc (\d+) @[^:]+: .* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// lastGC finds the last gctrace line in ensign's log.
func lastGC(log string) gcLine {
	data, err := os.ReadFile(log)
	if err != nil {
		return gcLine{}
	}
	ms := gcRe.FindAllSubmatch(data, -1)
	if len(ms) == 0 {
		return gcLine{}
	}
	m := ms[len(ms)-1]
	n := func(i int) int { v, _ := strconv.Atoi(string(m[i])); return v }
	return gcLine{N: n(1), Start: n(2), End: n(3), Live: n(4), GoalMiB: n(5)}
}
