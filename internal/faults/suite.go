package faults

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
)

// Options shape a run of the suite.
type Options struct {
	// Outage is how long Gitea is down, frozen or cut off and the API
	// server down (60 s in the full suite).
	Outage time.Duration
	// Errors is how long Gitea answers 503 in the error cases.
	Errors time.Duration
	// Reps is how many times each outage case injects its fault (one
	// ensign, one fleet, new versions every time).
	Reps int
	// Kills is how many times `ensign run` is SIGKILLed (at least 20 in
	// the full suite).
	Kills int
	// Failovers is how many times the leader is SIGKILLed mid-burst.
	Failovers int
	// Lease is the leader election's lease duration (renew deadline 2/3,
	// retry period 1/6 of it).
	Lease time.Duration
	// Only lists the cases to run (Cases names them); empty runs all.
	Only []string
	// Bin is the ensign binary; empty builds ./cmd/ensign.
	Bin string
	// Dir keeps ensign's logs and data; empty makes a temporary directory
	// that is removed afterwards.
	Dir string
	// Log gets progress lines; nil discards them.
	Log io.Writer
	// LogLevel is ensign's log level (ENSIGN_LOG_LEVEL); empty is info.
	LogLevel string
}

// Full is the full suite, run by hand (make faults).
func Full() Options {
	return Options{Outage: 60 * time.Second, Errors: 20 * time.Second, Reps: 3, Kills: 20, Failovers: 3, Lease: 15 * time.Second}
}

// Short is the short suite: the same cases with short outages and few
// kills.
func Short() Options {
	return Options{Outage: 8 * time.Second, Errors: 5 * time.Second, Reps: 1, Kills: 3, Failovers: 1, Lease: 6 * time.Second}
}

// Row is one case's line of the table.
type Row struct {
	// Case names the case; Fault says what was done.
	Case, Fault string
	// Faults is how many times the fault was injected.
	Faults int
	// Failures counts canary failures reverted exactly once (Once), not at
	// all (Lost) and more than once (Twice); Promotions the verified
	// versions' promotion pull requests; Commands the answers to comment
	// commands.
	Failures, Promotions, Commands tally
	// RollbackNotes is how many rollback issues and comments ensign wrote;
	// NotesWanted how many it should have: one per failure whose version
	// came in by a pull request (a revert of a push needs none).
	RollbackNotes, NotesWanted int
	// Duplicates lists comments or issues ensign wrote twice; OddEvents
	// failures whose Rollback events are not one "reverted".
	Duplicates, OddEvents []string
	// Reverts has, for every failure pending at or fired after a fault,
	// the time from the end of the fault until its revert was on main.
	Reverts []time.Duration
	// Git and Answered are, per fault, the time from its end until Git was
	// right (every revert on main, every promotion pull request open) and
	// until every command was answered.
	Git, Answered []time.Duration
	// Notes are further observations (readiness, take-over times).
	Notes []string
	// Took is how long the case ran.
	Took time.Duration
	// Err is why the case could not finish.
	Err error
}

// OK reports whether the case lost and duplicated nothing.
func (r Row) OK() bool {
	return r.Err == nil && r.Failures.Lost+r.Failures.Twice+r.Promotions.Lost+r.Promotions.Twice+r.Commands.Lost+r.Commands.Twice == 0 &&
		len(r.Duplicates) == 0 && len(r.OddEvents) == 0 && r.RollbackNotes == r.NotesWanted
}

// Recovered reports whether every revert landed, and Git was right,
// within target of the end of each fault.
func (r Row) Recovered(target time.Duration) bool {
	for _, d := range slices.Concat(r.Reverts, r.Git) {
		if d > target {
			return false
		}
	}
	return true
}

// caseFunc runs one case on a rig and fills in its row.
type caseFunc func(ctx context.Context, s *servers, o Options, row *Row) error

// Case is one case of the suite.
type Case struct {
	// Name is what Options.Only and the table call the case.
	Name string
	run  caseFunc
}

// Cases are the suite's cases in the order they run.
var Cases = []Case{
	{"gitea-kill", giteaKill},
	{"gitea-freeze", giteaFreeze},
	{"partition", partition},
	{"kube-restart", kubeRestart},
	{"ensign-kill", ensignKill},
	{"commands-down", commandsDown},
	{"push-during-503", pushDuring503},
	{"invalid-policy", invalidPolicy},
	{"leader-failover", leaderFailover},
}

// Run starts Gitea and an API server, runs the cases o names and returns
// their rows. An error means the suite could not run at all; a case that
// could not finish has Row.Err.
func Run(ctx context.Context, o Options) ([]Row, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, name := range o.Only {
		if !slices.ContainsFunc(Cases, func(c Case) bool { return c.Name == name }) {
			return nil, fmt.Errorf("unknown case %q", name)
		}
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ensign-faults-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := o.Bin
	if bin == "" {
		fmt.Fprintln(o.Log, "building ensign ...")
		var err error
		if bin, err = ensignproc.Build(ctx, dir); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(o.Log, "starting Gitea and kube-apiserver + etcd ...")
	g, err := harness.StartGitea(ctx, harness.GiteaOptions{})
	if err != nil {
		return nil, err
	}
	defer g.Stop()
	k, err := harness.StartKube(ctx)
	if err != nil {
		return nil, err
	}
	defer k.Stop()
	cfg := rest.CopyConfig(k.Config)
	cfg.Timeout = callTimeout
	s := &servers{gitea: g, kube: k, bin: bin, dir: dir, log: o.Log, logLevel: o.LogLevel,
		kc: kubernetes.NewForConfigOrDie(cfg), flagger: flaggerclient.NewForConfigOrDie(cfg)}
	var rows []Row
	for _, c := range Cases {
		if len(o.Only) > 0 && !slices.Contains(o.Only, c.Name) {
			continue
		}
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		fmt.Fprintf(o.Log, "== %s\n", c.Name)
		row := Row{Case: c.Name}
		start := time.Now()
		row.Err = c.run(ctx, s, o, &row)
		row.Took = time.Since(start)
		if row.Err != nil {
			fmt.Fprintf(o.Log, "%s: %v\n", c.Name, row.Err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// finish counts and audits a case after its last fault: it waits until
// Git is right and a little longer, so late duplicates show, then fills
// in the row's counts.
func finish(ctx context.Context, r *rig, row *Row) error {
	if _, err := r.settleRight(ctx, time.Now(), true); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
	}
	c, err := r.book.count(ctx)
	if err != nil {
		return err
	}
	row.Failures, row.Promotions, row.Commands, row.NotesWanted = c.Failures, c.Promotions, c.Commands, c.NotesWanted
	a, err := r.book.audit(ctx)
	if err != nil {
		return err
	}
	row.Duplicates, row.OddEvents, row.RollbackNotes = a.Duplicates, a.OddEvents, a.RollbackNotes
	for _, d := range a.Duplicates {
		r.say("duplicate: %s", d)
	}
	for _, e := range a.OddEvents {
		r.say("odd events: %s", e)
	}
	return nil
}

// repeat plays round max(o.Reps, 1) times, then finishes the case.
func repeat(ctx context.Context, r *rig, o Options, row *Row, round func() error) error {
	for range max(o.Reps, 1) {
		if err := round(); err != nil {
			return err
		}
	}
	return finish(ctx, r, row)
}

// recovered waits until the ledger is right after a fault that ended at
// end (but the promotions, if the rig says so), and records the times in
// the row.
func recovered(ctx context.Context, r *rig, row *Row, end time.Time) error {
	rec, err := r.settleRight(ctx, end, !r.revertsOnly)
	if err != nil {
		return err
	}
	row.Faults++
	row.Reverts = append(row.Reverts, rec.Reverts...)
	row.Git, row.Answered = append(row.Git, rec.Git), append(row.Answered, rec.Commands)
	r.say("after the fault: reverts %s s, Git right %.1f s, commands answered %.1f s", seconds(rec.Reverts), rec.Git.Seconds(), rec.Commands.Seconds())
	return nil
}

// Print writes the rows as a Markdown table and the notes and errors
// below it. Times are seconds from the end of a fault.
func Print(w io.Writer, rows []Row, target time.Duration) {
	fmt.Fprintf(w, "| case | fault | faults | → revert on main: median / p95 / max (n) | → Git right: median / max | → commands answered: max | reverts once | rollback comments (written/due) | Rollback events one \"reverted\" | promotion PRs once | commands answered once | duplicates | all ≤ %v | took |\n", target)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		ok := "yes"
		if !r.Recovered(target) {
			ok = "no"
		}
		if !r.OK() {
			ok += ", **lost, duplicated or wrong**"
		}
		n := r.Failures.Once + r.Failures.Lost + r.Failures.Twice
		events := fmt.Sprintf("%d/%d", n-len(r.OddEvents), n)
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %d/%d | %s | %s | %s | %d | %s | %s |\n", r.Case, r.Fault, r.Faults,
			quantiles(r.Reverts), medMax(r.Git), maxOf(r.Answered),
			r.Failures, r.RollbackNotes, r.NotesWanted, events, r.Promotions, r.Commands, len(r.Duplicates), ok, r.Took.Round(time.Second))
	}
	var notes []string
	for _, r := range rows {
		for _, n := range r.Notes {
			notes = append(notes, r.Case+": "+n)
		}
		if r.Err != nil {
			notes = append(notes, r.Case+": **did not finish**: "+firstLine(r.Err.Error()))
		}
		for _, d := range r.Duplicates {
			notes = append(notes, r.Case+": duplicate: "+d)
		}
		for _, e := range r.OddEvents {
			notes = append(notes, r.Case+": events: "+e)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// quantile is the nearest-rank q-quantile of sorted s.
func quantile(s []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// quantiles renders durations as "median / p95 / max (n)" seconds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("%.1f / %.1f / %.1f (%d)", quantile(s, 0.5).Seconds(), quantile(s, 0.95).Seconds(), s[len(s)-1].Seconds(), len(s))
}

// medMax renders durations as "median / max" seconds.
func medMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("%.1f / %.1f", quantile(s, 0.5).Seconds(), s[len(s)-1].Seconds())
}

// maxOf renders the largest duration in seconds.
func maxOf(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", slices.Max(ds).Seconds())
}

// seconds renders durations as a list of seconds.
func seconds(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.1f", d.Seconds())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
