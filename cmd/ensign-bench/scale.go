package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// scaleOpts tune the scale benchmark.
type scaleOpts struct {
	// rows are the configurations measured side by side in one run, each
	// "RxC": R repositories of C canaries each, watched by one `ensign run`.
	rows []scaleShape
	// runs is how many rollbacks and how many promotions each row times,
	// spread round-robin over its repositories.
	runs     int
	idle     time.Duration
	settle   time.Duration
	interval time.Duration
	// profile keeps a heap profile of ensign idle in each row, in dir.
	profile  bool
	dir, bin string
}

// scaleShape is one row's world: repos repositories of canaries canaries.
type scaleShape struct{ repos, canaries int }

func (s scaleShape) String() string { return fmt.Sprintf("%dx%d", s.repos, s.canaries) }

// parseShapes reads "1x100,10x100".
func parseShapes(s string) ([]scaleShape, error) {
	var out []scaleShape
	for _, f := range strings.Split(s, ",") {
		r, c, ok := strings.Cut(strings.TrimSpace(f), "x")
		repos, err1 := strconv.Atoi(r)
		canaries, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || repos < 1 || canaries < 2 || canaries%2 != 0 {
			return nil, fmt.Errorf("-scale: %q is not REPOSxCANARIES (an even number of canaries, two per app)", f)
		}
		out = append(out, scaleShape{repos, canaries})
	}
	return out, nil
}

// scaleRow is what one row measured.
type scaleRow struct {
	shape                  scaleShape
	setup, ready           time.Duration
	idle, peak             int64 // KiB
	rollbacks, promotions  []time.Duration
	allocBytes, allocCount float64 // per timed result
	misrouted              int     // log lines of a timed canary under another repository
}

// perNamespace is how many canaries of a fleet share a namespace.
const scalePerNamespace = 50

// benchScale sets up every fleet the rows need on one Gitea and one API
// server (the largest row's repositories include the smaller rows'), then
// for each row starts a fresh `ensign run` over that row's repositories and
// measures: time to ready, idle and peak resident memory, rollback latency
// (production Failed → the revert is the head of main) and promotion
// latency (staging Succeeded → the promotion pull request exists), each
// timed one at a time, and Go allocations per timed result.
func benchScale(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o scaleOpts) ([]scaleRow, error) {
	need := map[int]int{} // canaries per repository → repositories
	for _, r := range o.rows {
		need[r.canaries] = max(need[r.canaries], r.repos)
	}
	fleets := map[int][]*scenario.Fleet{}
	setups := map[int]time.Duration{}
	var bot harness.GiteaUser
	for c, n := range need {
		start := time.Now()
		fmt.Fprintf(os.Stderr, "scale: setting up %d repositories of %d canaries ...\n", n, c)
		fs, err := setupFleets(ctx, g, k, n, c)
		if err != nil {
			return nil, err
		}
		fleets[c] = fs
		setups[c] = time.Since(start) / time.Duration(n)
		if bot.Name == "" {
			bot = fs[0].Bot
		}
	}
	// One ensign account for every repository: the first fleet's bot.
	for _, fs := range fleets {
		if err := shareBot(ctx, g, fs, bot); err != nil {
			return nil, err
		}
	}
	kc := kubernetes.NewForConfigOrDie(k.Config)
	var rows []scaleRow
	for i, shape := range o.rows {
		fmt.Fprintf(os.Stderr, "scale: row %s ...\n", shape)
		row, err := scaleOne(ctx, g, kc, fleets[shape.canaries][:shape.repos], shape, i, o)
		if err != nil {
			return rows, fmt.Errorf("row %s: %w", shape, err)
		}
		row.setup = setups[shape.canaries]
		rows = append(rows, row)
	}
	return rows, nil
}

// setupFleets makes n repositories of c canaries each, four at a time.
// Each has two live apps (one that promotes, one that fails).
func setupFleets(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, n, c int) ([]*scenario.Fleet, error) {
	apps := c / 2
	perNS := min(apps, scalePerNamespace)
	namespaces := 2 * ((apps + perNS - 1) / perNS)
	out := make([]*scenario.Fleet, n)
	err := fanOut(ctx, n, 4, func(i int) error {
		f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{
			Prefix: harness.UniqueName(fmt.Sprintf("s%d", c)) + "-", Namespaces: namespaces, PerNamespace: perNS, Live: 2,
		})
		out[i] = f
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// shareBot makes bot an admin collaborator of every fleet and the fleets'
// ensign account.
func shareBot(ctx context.Context, g *harness.GiteaServer, fs []*scenario.Fleet, bot harness.GiteaUser) error {
	for _, f := range fs {
		if f.Bot.Name == bot.Name {
			continue
		}
		if err := g.AddCollaborator(ctx, f.Org, f.Repo, bot.Name, "admin"); err != nil {
			return err
		}
		f.Bot = bot
	}
	return nil
}

// scaleOne measures one row.
func scaleOne(ctx context.Context, g *harness.GiteaServer, kc kubernetes.Interface, fs []*scenario.Fleet, shape scaleShape, rowIndex int, o scaleOpts) (row scaleRow, err error) {
	row.shape = shape
	repos := make([]string, len(fs))
	for i, f := range fs {
		repos[i] = f.Org + "/" + f.Repo
	}
	dir := filepath.Join(o.dir, "scale-"+shape.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return row, err
	}
	var pprofAddr string
	if o.profile {
		if pprofAddr, err = ensignproc.FreeAddr(); err != nil {
			return row, err
		}
	}
	start := time.Now()
	run, err := startEnsign(ctx, o.bin, ensignConfig{
		giteaURL: g.URL, token: fs[0].Bot.Token, repo: strings.Join(repos, ","),
		kubeconfigs: fs[0].Kubeconfigs(), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ensign.log"),
		pprofAddr: pprofAddr,
	})
	if err != nil {
		return row, err
	}
	defer run.stop()
	row.ready = time.Since(start)

	peak := run.samplePeak(ctx)
	defer peak()
	time.Sleep(o.idle)
	m, err := run.memory()
	if err != nil {
		return row, err
	}
	row.idle = m.RSS
	if o.profile {
		out := filepath.Join(dir, "idle.heap.pprof")
		if err := saveHeap(ctx, pprofAddr, out); err != nil {
			return row, err
		}
		fmt.Fprintln(os.Stderr, "scale: heap profile of ensign idle:", out)
	}

	before, err := goMemstats(ctx, run.Addr)
	if err != nil {
		return row, err
	}
	var timed []string // canary keys whose log lines must all name their own repository
	for i := range o.runs {
		f := fs[i%len(fs)]
		promoting, failing := f.LiveApps()
		tag := fmt.Sprintf("3.%d.%d", rowIndex, i+1)
		rolledBack, err := eventCount(ctx, kc, failing[0].Production.Namespace, failing[0].Name, "Rollback")
		if err != nil {
			return row, err
		}
		d, err := timeRollback(ctx, f, failing[0], tag, o, run)
		if err != nil {
			return row, fmt.Errorf("rollback %d: %w", i, err)
		}
		row.rollbacks = append(row.rollbacks, d)
		// Let ensign finish (Flux, event) before the next result.
		if err := waitEvents(ctx, kc, failing[0].Production.Namespace, failing[0].Name, "Rollback", rolledBack+1); err != nil {
			return row, err
		}
		promoted, err := eventCount(ctx, kc, promoting[0].Staging.Namespace, promoting[0].Name, "Promotion")
		if err != nil {
			return row, err
		}
		d, err = timePromotion(ctx, f, promoting[0], tag, o, run)
		if err != nil {
			return row, fmt.Errorf("promotion %d: %w", i, err)
		}
		row.promotions = append(row.promotions, d)
		if err := waitEvents(ctx, kc, promoting[0].Staging.Namespace, promoting[0].Name, "Promotion", promoted+1); err != nil {
			return row, err
		}
		timed = append(timed, f.Org+"/"+f.Repo+" production/"+failing[0].Production.Namespace+"/"+failing[0].Name,
			f.Org+"/"+f.Repo+" staging/"+promoting[0].Staging.Namespace+"/"+promoting[0].Name)
	}
	after, err := goMemstats(ctx, run.Addr)
	if err != nil {
		return row, err
	}
	results := float64(2 * o.runs)
	row.allocBytes = (after["go_memstats_alloc_bytes_total"] - before["go_memstats_alloc_bytes_total"]) / results
	row.allocCount = (after["go_memstats_mallocs_total"] - before["go_memstats_mallocs_total"]) / results
	row.peak = peak()
	if err := run.stop(); err != nil {
		return row, err
	}
	row.misrouted, err = misrouted(run.log, timed)
	return row, err
}

// timeRollback pins tag in the app's production overlay (a person's push),
// lets the analysis start, then fails it and times until the revert of that
// push is the head of main.
func timeRollback(ctx context.Context, f *scenario.Fleet, a scenario.FleetApp, tag string, o scaleOpts, run *ensignRun) (time.Duration, error) {
	if err := f.PrepareFailure(ctx, a, tag); err != nil {
		return 0, err
	}
	if err := f.SetPhase(ctx, a, a.Production, flaggerv1.CanaryPhaseProgressing); err != nil {
		return 0, err
	}
	api := newGiteaAPI(f.Gitea.URL, f.Org, f.Repo, f.Dev.Token)
	h, err := api.head(ctx, "main")
	if err != nil {
		return 0, err
	}
	sha := h.Commit.ID
	time.Sleep(o.settle)
	// ensign tells failures of one canary apart by their transition time
	// in whole seconds.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	start := time.Now()
	if err := f.Fail(ctx, a); err != nil {
		return 0, err
	}
	end, _, err := poll(ctx, o.interval, time.Minute, api.revertOnMain(sha))
	if err != nil {
		return 0, fmt.Errorf("wait for the revert of %s: %w (ensign: %v)\n%s", sha, err, run.alive(), tail(run.log, 15))
	}
	return end.Sub(start), nil
}

// timePromotion releases tag to the app's staging overlay, lets the
// analysis start, then ends it Succeeded and times until ensign's
// promotion pull request of tag exists.
func timePromotion(ctx context.Context, f *scenario.Fleet, a scenario.FleetApp, tag string, o scaleOpts, run *ensignRun) (time.Duration, error) {
	if err := f.PrepareSuccess(ctx, a, tag); err != nil {
		return 0, err
	}
	if err := f.SetPhase(ctx, a, a.Staging, flaggerv1.CanaryPhaseProgressing); err != nil {
		return 0, err
	}
	api := newGiteaAPI(f.Gitea.URL, f.Org, f.Repo, f.Dev.Token)
	number, err := api.lastPull(ctx)
	if err != nil {
		return 0, err
	}
	time.Sleep(o.settle)
	start := time.Now()
	if err := f.Succeed(ctx, a); err != nil {
		return 0, err
	}
	want := scenario.Image + ":" + tag
	end, _, err := poll(ctx, o.interval, time.Minute, func(ctx context.Context) (bool, error) {
		p, found, err := api.pull(ctx, number+1)
		if err != nil || !found {
			return false, err
		}
		if !strings.Contains(p.Body, want) || !strings.Contains(p.Body, a.Name) {
			return false, fmt.Errorf("pull request #%d is not the promotion of %s %s: %q", number+1, a.Name, tag, p.Title)
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("wait for the promotion of %s %s: %w (ensign: %v)\n%s", a.Name, tag, err, run.alive(), tail(run.log, 15))
	}
	return end.Sub(start), nil
}

// eventCount counts ensign's events of reason on a canary.
func eventCount(ctx context.Context, kc kubernetes.Interface, ns, name, reason string) (int, error) {
	list, err := kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Source.Component == "ensign" && ev.InvolvedObject.Name == name && ev.Reason == reason {
			n += int(max(ev.Count, 1))
		}
	}
	return n, nil
}

// waitEvents waits until ensign has recorded n events of reason on a canary.
func waitEvents(ctx context.Context, kc kubernetes.Interface, ns, name, reason string, n int) error {
	return scenario.Wait(ctx, time.Minute, fmt.Sprintf("%d %s events on %s/%s", n, reason, ns, name), func() (bool, error) {
		got, err := eventCount(ctx, kc, ns, name, reason)
		return got >= n, err
	})
}

// saveHeap writes ensign's heap profile (after a GC) to file.
func saveHeap(ctx context.Context, addr, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// goMemstats reads the Go allocation counters from ensign's /metrics.
func goMemstats(ctx context.Context, addr string) (map[string]float64, error) {
	text, err := scrapeMetrics(ctx, addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || (name != "go_memstats_alloc_bytes_total" && name != "go_memstats_mallocs_total") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("ensign's /metrics has no Go allocation counters (%d of 2)", len(out))
	}
	return out, nil
}

// misrouted counts ensign's log lines about a timed canary that name
// another repository than the one whose policy names it. Each entry of
// timed is "owner/repo cluster/namespace/name".
func misrouted(logFile string, timed []string) (int, error) {
	own := map[string]string{} // canary= value → repo= value
	for _, t := range timed {
		repo, canary, _ := strings.Cut(t, " ")
		own[canary] = repo
	}
	f, err := os.Open(logFile)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		canary, repo := logField(line, "canary"), logField(line, "repo")
		if want, ok := own[canary]; ok && repo != "" && repo != want {
			n++
		}
	}
	return n, sc.Err()
}

// logField returns key's value in a text-format slog line.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// printScale writes the cost-growth table.
func printScale(w io.Writer, o scaleOpts, rows []scaleRow) {
	fmt.Fprintf(w, "### Scale: ensign run against repositories and canaries (%d rollbacks and %d promotions per row, one at a time; idle read %v after ready)\n\n", o.runs, o.runs, o.idle)
	out := [][]string{{"repositories x canaries", "canaries", "setup per repository", "ready", "idle RSS MiB", "peak RSS MiB",
		"rollback p50 / p95 ms", "promotion p50 / p95 ms", "alloc per result", "allocs per result", "log lines under another repository"}}
	for _, r := range rows {
		rb, pr := summarize(r.rollbacks), summarize(r.promotions)
		out = append(out, []string{r.shape.String(), strconv.Itoa(r.shape.repos * r.shape.canaries),
			r.setup.Round(100 * time.Millisecond).String(), r.ready.Round(100 * time.Millisecond).String(),
			mib(r.idle), mib(r.peak), ms(rb.P50) + " / " + ms(rb.P95), ms(pr.P50) + " / " + ms(pr.P95),
			fmt.Sprintf("%.1f MB", r.allocBytes/1e6), fmt.Sprintf("%.0fk", r.allocCount/1e3), strconv.Itoa(r.misrouted)})
	}
	table(w, out)
	fmt.Fprintln(w)
}
