// Command ensign-faults runs ensign's fault suite (package internal/faults)
// against the real servers the harness starts and the real `ensign run`,
// and prints its table: for each case, the time from the end of each fault
// until each revert landed on main (median, p95, max) and until Git was
// right, and exactness: canary failures reverted exactly once, rollback
// comments and Rollback events one per failure, one promotion pull request
// per verified version, comment commands answered exactly once, duplicate
// comments. BENCHMARKS.md records the table. `make faults` runs it.
//
// It exits 1 when a case lost or duplicated anything or could not finish,
// and reports recoveries over -target without failing.
//
// Usage: go run ./cmd/ensign-faults [-short] [-only case,case] [-outage 60s] [-kills 20]
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
	"github.com/ensignbot/ensign/internal/faults"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ensign-faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "the short suite: short outages, few kills")
	only := fs.String("only", "", "cases to run, comma-separated (default all): "+caseNames())
	outage := fs.Duration("outage", 0, "how long Gitea and the API server stay down (default 60s, short 8s)")
	errs := fs.Duration("errors", 0, "how long Gitea answers 503 (default 20s, short 5s)")
	reps := fs.Int("reps", 0, "times each outage case injects its fault (default 3, short 1)")
	kills := fs.Int("kills", 0, "SIGKILLs of ensign in ensign-kill (default 20, short 3)")
	failovers := fs.Int("failovers", 0, "leader SIGKILLs in leader-failover (default 3, short 1)")
	lease := fs.Duration("lease", 0, "leader election lease (default 15s, short 6s)")
	bin := fs.String("ensign", "", "ensign binary (default: build ./cmd/ensign)")
	dir := fs.String("dir", "", "keep ensign's logs and data here (default: a temporary directory, removed)")
	logLevel := fs.String("log-level", "info", "ensign's log level (debug logs every call to Gitea)")
	target := fs.Duration("target", 5*time.Second, "recovery target")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o := faults.Full()
	if *short {
		o = faults.Short()
	}
	override(&o.Outage, *outage)
	override(&o.Errors, *errs)
	override(&o.Lease, *lease)
	override(&o.Reps, *reps)
	override(&o.Kills, *kills)
	override(&o.Failovers, *failovers)
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	o.Bin, o.Dir, o.Log, o.LogLevel = *bin, *dir, stderr, *logLevel
	start := time.Now()
	rows, err := faults.Run(ctx, o)
	fmt.Fprintf(stdout, "ensign fault suite (%s), %s, %d CPUs, Gitea %s (git %s), kube-apiserver %s; outage %v, 503s %v, %d faults per outage case, %d kills, %d fail-overs (lease %v); target %v; %v in all\n\n",
		map[bool]string{true: "short", false: "full"}[*short], time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(),
		harness.GiteaVersion, harness.GiteaGitVersion, harness.KubernetesVersion, o.Outage, o.Errors, o.Reps, o.Kills, o.Failovers, o.Lease, *target, time.Since(start).Round(time.Second))
	faults.Print(stdout, rows, *target)
	if err != nil {
		fmt.Fprintln(stderr, "ensign-faults:", err)
		return 1
	}
	for _, r := range rows {
		if !r.OK() {
			return 1
		}
	}
	return 0
}

// override sets *dst to v when the flag was given (v above 0).
func override[T int | time.Duration](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

func caseNames() string {
	var names []string
	for _, c := range faults.Cases {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
