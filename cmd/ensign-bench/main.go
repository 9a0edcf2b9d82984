// Command ensign-bench measures the bot end to end against the real servers
// the harness starts (Gitea, kube-apiserver + etcd) and prints tables:
//
//   - rollback: the time from the UpdateStatus that moves a production
//     canary to Failed until Gitea's branch API shows ensign's revert as the
//     head of main;
//   - promote: the time from the UpdateStatus that moves a staging canary to
//     Succeeded until Gitea's API shows ensign's promotion pull request;
//   - memory: the resident memory of `ensign run` watching a fleet of
//     canaries, idle and after bursts of phase changes;
//   - burst (only with -only): a burst of production canaries of one
//     repository Failed at once, then a burst of staging canaries
//     Succeeded, and when each revert and promotion shows in Gitea;
//   - failover (only with -only): with leader election on, the time from
//     SIGKILL or SIGTERM of the leader until the standby leads, and the idle
//     memory of a leader and a standby;
//   - real (only with -only; needs the controllers from `build.sh
//     controllers`): on the real Flux and Flagger, the time from Flagger's
//     Failed until ensign's revert is the head of main and until
//     kustomize-controller has applied it;
//   - scale (only with -only): one `ensign run` over R repositories of C
//     canaries each, for several RxC side by side: time to ready, idle and
//     peak memory, rollback and promotion latency, allocations per result.
//
// ensign runs as the real binary (`ensign run`, built from ./cmd/ensign
// unless -ensign names one) in a subprocess configured through its
// environment, the way it is deployed. The scenario package plays CI, the
// people, Flux and Flagger (except in real, where the controllers run). Everything it creates lives on throwaway
// servers that are stopped on exit.
//
// Usage: go run ./cmd/ensign-bench [-only rollback,promote,memory,burst,failover,real,scale] [-runs 20] [-repeat 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ensign-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "rollback,promote,memory", "benchmarks to run, comma-separated: rollback, promote, memory, burst, failover, real, scale, floor")
	runs := fs.Int("runs", 20, "measured runs per latency benchmark (after one cold run)")
	repeat := fs.Int("repeat", 1, "repeat each latency benchmark this often, each time with a fresh repository and ensign")
	settle := fs.Duration("settle", time.Second, "quiet time before each measured phase change")
	interval := fs.Duration("poll", 10*time.Millisecond, "pause between Gitea polls")
	bin := fs.String("ensign", "", "ensign binary (default: build ./cmd/ensign)")
	memLimit := fs.String("gomemlimit", "", "memory: GOMEMLIMIT for ensign (e.g. 48MiB); empty leaves it unset")
	namespaces := fs.Int("namespaces", 100, "memory: namespaces (half per cluster)")
	perNS := fs.Int("per-namespace", 10, "memory: canaries per namespace")
	burst := fs.Int("burst", 100, "memory: Progressing phase changes in the burst")
	live := fs.Int("live", 20, "memory: apps whose final phase ensign acts on (half Succeeded, half Failed)")
	idle := fs.Duration("idle", 15*time.Second, "memory: wait before each idle reading")
	verbose := fs.Bool("v", false, "print every run")
	keep := fs.Bool("keep", false, "keep the working directory (ensign's logs and Git caches) and print where it is")
	trace := fs.Bool("trace", false, "route ensign's Gitea traffic through a recording proxy and print where the time went")
	burstSize := fs.Int("burst-size", 100, "burst: canaries failing (then succeeding) at once")
	burstWidth := fs.Int("burst-writers", 16, "burst: writers of the phase changes")
	burstLimit := fs.Duration("burst-limit", 3*time.Minute, "burst: how long to wait for every result of a burst")
	realApps := fs.Int("real-apps", 2, "real: sample apps failing side by side (the -runs failures are shared among them)")
	scale := fs.String("scale", "1x100,1x1000,10x100,100x100", "scale: rows REPOSxCANARIES (canaries per repository), measured side by side")
	scaleRuns := fs.Int("scale-runs", 10, "scale: rollbacks and promotions timed per row")
	scaleProfile := fs.Bool("scale-profile", false, "scale: keep a heap profile of ensign idle in each row (with -keep)")
	floorWidths := fs.String("floor-widths", "1,2,4,16", "floor: pull requests created at once, one row each (-burst-size of them)")
	lease := fs.Duration("lease", 15*time.Second, "failover: the leader election's lease duration (renew deadline 2/3, retry period 1/6 of it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	want := map[string]bool{}
	for _, b := range strings.Split(*only, ",") {
		switch b = strings.TrimSpace(b); b {
		case "rollback", "promote", "memory", "burst", "failover", "real", "scale", "floor":
			want[b] = true
		default:
			fmt.Fprintf(stderr, "ensign-bench: -only: unknown benchmark %q (want rollback, promote, memory, burst, failover, real, scale, floor)\n", b)
			return 2
		}
	}
	shapes, err := parseShapes(*scale)
	if err != nil {
		fmt.Fprintln(stderr, "ensign-bench:", err)
		return 2
	}
	widths, err := parseWidths(*floorWidths)
	if err != nil {
		fmt.Fprintln(stderr, "ensign-bench:", err)
		return 2
	}
	if *runs < 1 || *repeat < 1 || *scaleRuns < 1 {
		fmt.Fprintln(stderr, "ensign-bench: -runs, -repeat and -scale-runs must be at least 1")
		return 2
	}
	if err := bench(ctx, stdout, want, *bin, *keep, *repeat, latencyOpts{runs: *runs, settle: *settle, interval: *interval, verbose: *verbose, trace: *trace},
		memoryOpts{namespaces: *namespaces, perNamespace: *perNS, burst: *burst, live: *live, idle: *idle, memLimit: *memLimit},
		failoverOpts{runs: *runs, lease: *lease, namespaces: 4, perNamespace: 5, idle: *idle},
		burstOpts{size: *burstSize, width: *burstWidth, limit: *burstLimit, interval: 20 * time.Millisecond, trace: *trace},
		realOpts{runs: *runs, apps: max(1, *realApps), interval: *interval, verbose: *verbose},
		scaleOpts{rows: shapes, runs: *scaleRuns, idle: *idle, settle: *settle, interval: *interval, profile: *scaleProfile},
		floorOpts{size: *burstSize, widths: widths}); err != nil {
		fmt.Fprintln(stderr, "ensign-bench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, w io.Writer, want map[string]bool, bin string, keep bool, repeat int, lo latencyOpts, mo memoryOpts, fo failoverOpts, bo burstOpts, ro realOpts, so scaleOpts, flo floorOpts) error {
	dir, err := os.MkdirTemp("", "ensign-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "keeping the working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if bin == "" {
		fmt.Fprintln(os.Stderr, "building ensign ...")
		if bin, err = ensignproc.Build(ctx, dir); err != nil {
			return err
		}
	}
	lo.dir, lo.bin, mo.dir, mo.bin, fo.dir, fo.bin, bo.dir, bo.bin, ro.dir, ro.bin, so.dir, so.bin = dir, bin, dir, bin, dir, bin, dir, bin, dir, bin, dir, bin

	fmt.Fprintln(os.Stderr, "starting Gitea and kube-apiserver ...")
	g, err := harness.StartGitea(ctx, harness.GiteaOptions{})
	if err != nil {
		return err
	}
	defer g.Stop()
	k, err := harness.StartKube(ctx)
	if err != nil {
		return err
	}
	defer k.Stop()

	fmt.Fprintf(w, "ensign bot benchmarks, %s, %d CPUs (GOMAXPROCS %d), Gitea %s (git %s), kube-apiserver %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.GOMAXPROCS(0), harness.GiteaVersion, harness.GiteaGitVersion, harness.KubernetesVersion)

	for _, b := range []latencyBench{
		{"rollback", "production Failed -> revert is the head of main (Gitea branch API)", benchRollback},
		{"promote", "staging Succeeded -> promotion PR visible (Gitea API)", benchPromote},
	} {
		if want[b.key] {
			if err := runLatency(ctx, w, g, k, b, repeat, lo); err != nil {
				return err
			}
		}
	}
	if want["memory"] {
		if err := runMemory(ctx, w, g, k, repeat, mo); err != nil {
			return err
		}
	}
	if want["burst"] {
		if err := runBurst(ctx, w, g, k, repeat, bo); err != nil {
			return err
		}
	}
	if want["failover"] {
		fmt.Fprintf(os.Stderr, "failover: %d runs each of SIGKILL and SIGTERM ...\n", fo.runs)
		res, err := benchFailover(ctx, g, k, fo)
		if err != nil {
			return fmt.Errorf("failover: %w", err)
		}
		printFailover(w, fo, res)
	}
	if want["real"] {
		if err := runReal(ctx, w, g, ro); err != nil {
			return err
		}
	}
	if want["floor"] {
		rows, err := benchFloor(ctx, g, flo)
		printFloor(w, flo, rows)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	if want["scale"] {
		rows, err := benchScale(ctx, g, k, so)
		printScale(w, so, rows)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	return nil
}

// latencyBench is one latency benchmark and how its table is titled.
type latencyBench struct {
	key, title string
	fn         func(context.Context, *harness.GiteaServer, *harness.KubeServer, latencyOpts) (latency, error)
}

// runLatency runs a latency benchmark repeat times and prints its table.
func runLatency(ctx context.Context, w io.Writer, g *harness.GiteaServer, k *harness.KubeServer, b latencyBench, repeat int, lo latencyOpts) error {
	rows := [][]string{latencyHeader}
	var all, rtts []time.Duration
	var traces []runTrace
	var colds []string
	for r := 1; r <= repeat; r++ {
		fmt.Fprintf(os.Stderr, "%s: repetition %d of %d (%d runs) ...\n", b.key, r, repeat, lo.runs)
		res, err := b.fn(ctx, g, k, lo)
		if err != nil {
			return fmt.Errorf("%s: %w", b.key, err)
		}
		all = append(all, res.samples...)
		rtts = append(rtts, res.rtts...)
		traces = append(traces, res.traces...)
		colds = append(colds, ms(res.cold))
		rows = append(rows, latencyRow(fmt.Sprintf("repetition %d", r), summarize(res.samples)))
	}
	if repeat > 1 {
		rows = append(rows, latencyRow("all repetitions", summarize(all)))
	}
	title := b.title
	if lo.trace {
		title += ", traced through a recording proxy"
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	table(w, rows)
	rt := summarize(rtts)
	fmt.Fprintf(w, "\ncold first run (excluded above), ms: %s; Gitea poll round trip p50 %s ms, p95 %s ms (poll every %v + round trip)\n\n",
		strings.Join(colds, ", "), ms(rt.P50), ms(rt.P95), lo.interval)
	printTrace(w, traces)
	return nil
}

// runMemory runs the memory benchmark repeat times and prints its tables.
func runMemory(ctx context.Context, w io.Writer, g *harness.GiteaServer, k *harness.KubeServer, repeat int, mo memoryOpts) error {
	var results []memResult
	for r := 1; r <= repeat; r++ {
		fmt.Fprintf(os.Stderr, "memory: repetition %d of %d, setting up the fleet ...\n", r, repeat)
		res, err := benchMemory(ctx, g, k, mo)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		results = append(results, res)
		fmt.Fprintf(w, "### `ensign run` resident memory, %d canaries in %d namespaces (repetition %d)\n\n", res.canaries, res.namespaces, r)
		rows := [][]string{{"moment", "VmRSS MiB", "RssAnon MiB", "RssFile MiB", "VmHWM MiB", "Go heap live MB", "Go heap goal MB"}}
		for _, p := range res.points {
			rows = append(rows, []string{p.label, mib(p.mem.RSS), mib(p.mem.Anon), mib(p.mem.File), mib(p.mem.HWM),
				fmt.Sprint(p.heap.Live), fmt.Sprint(p.heap.GoalMiB)})
		}
		table(w, rows)
		fmt.Fprintf(w, "\npeak: %s MiB (highest VmHWM read, or VmRSS sampled every 100 ms); start to synced: %v; burst written in %v; final phases acted on in %v\n\n",
			mib(res.peak()), res.ready.Round(time.Millisecond), res.burstSent.Round(time.Millisecond), res.finalHandled.Round(time.Millisecond))
		p, rb := summarize(res.promoted), summarize(res.rolledBack)
		fmt.Fprintf(w, "final burst, seconds from the burst until ensign's event (1 s resolution): %d promotions min %s p50 %s max %s; %d rollbacks min %s p50 %s max %s\n\n",
			p.N, secs(p.Min), secs(p.P50), secs(p.Max), rb.N, secs(rb.Min), secs(rb.P50), secs(rb.Max))
	}
	if repeat > 1 {
		fmt.Fprintf(w, "### `ensign run` VmRSS over %d repetitions (MiB)\n\n", repeat)
		rows := [][]string{{"moment"}}
		for r := range results {
			rows[0] = append(rows[0], fmt.Sprintf("rep %d", r+1))
		}
		rows[0] = append(rows[0], "median")
		for i, p := range results[0].points {
			row := []string{p.label}
			var vs []int64
			for _, res := range results {
				row = append(row, mib(res.points[i].mem.RSS))
				vs = append(vs, res.points[i].mem.RSS)
			}
			rows = append(rows, append(row, mib(median(vs))))
		}
		row := []string{"peak (highest VmHWM or sampled VmRSS)"}
		var vs []int64
		for _, res := range results {
			row = append(row, mib(res.peak()))
			vs = append(vs, res.peak())
		}
		rows = append(rows, append(row, mib(median(vs))))
		table(w, rows)
		fmt.Fprintln(w)
	}
	return nil
}
