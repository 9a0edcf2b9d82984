package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/status"
)

// Exit codes of the pipeline commands.
const (
	exitOK      = 0 // done: landed, or nothing to do
	exitFailed  = 1 // an error; retrying may help
	exitUsage   = 2 // bad flags, configuration or request
	exitBlocked = 3 // not landed: needs a window, a person, or a verified version
	// exitRolledBack: --wait saw the promoted version fail its analysis in
	// the target stage and ensign roll it back.
	exitRolledBack = 4
	outputText     = "text"
	outputJSON     = "json"
	defaultWait    = 30 * time.Minute
	pollInterval   = 2 * time.Second
)

// cliFlags are the flags every pipeline command shares.
type cliFlags struct {
	repo, output, by string
}

func (f *cliFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.repo, "repo", "", "repository owner/name (default: the only one in ENSIGN_REPOS)")
	fs.StringVar(&f.output, "o", outputText, "output format: text or json")
}

// registerBy adds --by, for commands that write commits on someone's behalf.
func (f *cliFlags) registerBy(fs *flag.FlagSet) {
	fs.StringVar(&f.by, "by", "", "who asks, recorded in the commit (default: $USER)")
}

// person is who asks: --by, else $USER.
func (f *cliFlags) person() string {
	if f.by != "" {
		return f.by
	}
	return os.Getenv("USER")
}

// parse parses args into fs (see parseFlags) and checks that there are no
// positional arguments, -o is valid and every required flag is set.
func (f *cliFlags) parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, required ...string) (code int, ok bool) {
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code, false
	}
	switch {
	case fs.NArg() > 0:
		return badUsage(fs, stderr, "unexpected argument %q", fs.Arg(0)), false
	case f.output != outputText && f.output != outputJSON:
		return badUsage(fs, stderr, "-o must be text or json, not %q", f.output), false
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return badUsage(fs, stderr, "--%s is required", name), false
		}
	}
	return 0, true
}

// Usage texts of the pipeline commands.
const (
	promoteUsage = `usage: ensign promote --app APP --to STAGE [--wait] [--now] [-o json]

Promotes the version the source stage's canary verified into STAGE.
With --wait it follows the promotion: merged, applied by Flux, and the
target stage's canary Succeeded or Failed (then rolled back by ensign), one
line (or with -o json one object) per step; --wait=merged stops at the merge.
Exit codes: 0 landed (with --wait: Succeeded; without: or PR opened), 1
error, 2 bad request, 3 not landed (window closed, on hold, nothing verified,
or --timeout ran out), 4 the version Failed in the stage and was rolled back.
`
	rollbackUsage = `usage: ensign rollback --app APP --stage STAGE [--commit SHA] [-o json]

Reverts a commit of a stage's overlay, as the policy's rollback mode says
(push or pull request).
Exit codes: 0 reverted (or already), 1 error, 2 bad request, 3 needs a person
(conflict, refused).
`
	statusUsage = `usage: ensign status [--app APP] [-o json]

Shows each stage: the version Git pins, the canary's phase and what its
primary runs, the promotion window, queued promotions.
`
)

// connect loads the configuration and wires ensign for a one-shot command.
func connect(ctx context.Context, stderr io.Writer, name string, flags cliFlags) (*bot, *repoServices, int) {
	cfg, err := loadConfig(ctx, envconfig.OsLookuper())
	if err != nil {
		fmt.Fprintf(stderr, "ensign %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	b, err := newBot(ctx, cfg, newLogger(cfg, os.Stderr), nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ensign %s: %v\n", name, err)
		return nil, nil, exitFailed
	}
	svc, err := b.repo(flags.repo)
	if err != nil {
		b.close()
		fmt.Fprintf(stderr, "ensign %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	return b, svc, exitOK
}

func emit(w io.Writer, format string, v any, text string) {
	if format == outputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	fmt.Fprintln(w, strings.TrimRight(text, "\n"))
}

// promoteCmd is `ensign promote --app A --to STAGE [--wait]`.
func promoteCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("promote", promoteUsage)
	var flags cliFlags
	flags.register(fs)
	app := fs.String("app", "", "app to promote (required)")
	to := fs.String("to", "", "stage to promote into (required)")
	var wait waitMode
	fs.Var(&wait, "wait", "follow the promotion until its canary Succeeded (exit 0) or Failed and was rolled back (exit 4); --wait=merged only until it is merged (exit 3 if not within --timeout)")
	timeout := fs.Duration("timeout", defaultWait, "how long --wait waits")
	now := fs.Bool("now", false, "merge even if the stage's promotion window is closed")
	flags.registerBy(fs)
	if code, ok := flags.parse(fs, args, stdout, stderr, "app", "to"); !ok {
		return code
	}
	b, svc, code := connect(ctx, stderr, "promote", flags)
	if b == nil {
		return code
	}
	defer b.close()
	out, err := svc.promote.PromoteStage(ctx, promote.Request{App: *app, To: *to, Person: flags.person(), Now: *now})
	if err != nil {
		fmt.Fprintln(stderr, "ensign promote:", err)
		switch {
		case errors.Is(err, promote.ErrBadRequest):
			return exitUsage
		case errors.Is(err, promote.ErrNotVerified), errors.Is(err, promote.ErrNothingMatched), errors.Is(err, promote.ErrUnverifiedRevision):
			return exitBlocked
		}
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if wait != waitNone && (out.Action == promote.ActionQueued || out.Action == promote.ActionWaiting) && out.PR != 0 {
		out = waitMerged(ctx, svc, out, stderr)
	}
	emit(stdout, flags.output, out, promoteText(out))
	switch {
	case out.Action.Done() && wait == waitOutcome && out.Action != promote.ActionAlreadyPromoted && out.Commit != "":
		return follow(ctx, svc, out, flags.output, stdout, stderr)
	case out.Action.Done():
		return exitOK
	case out.Action == promote.ActionQueued || out.Action == promote.ActionWaiting:
		if wait != waitNone {
			return exitBlocked
		}
		return exitOK
	}
	return exitBlocked
}

// waitMode is --wait: none, until merged, or until the outcome.
type waitMode string

const (
	waitNone        waitMode = ""
	waitUntilMerged waitMode = "merged"
	waitOutcome     waitMode = "outcome"
)

// String returns the mode's name.
func (w *waitMode) String() string { return string(*w) }

// Set parses --wait's value: none (--wait) means the outcome.
func (w *waitMode) Set(v string) error {
	switch v {
	case "true", "outcome":
		*w = waitOutcome
	case "merged":
		*w = waitUntilMerged
	case "false", "":
		*w = waitNone
	default:
		return fmt.Errorf("want --wait, --wait=outcome or --wait=merged, got %q", v)
	}
	return nil
}

// IsBoolFlag lets --wait stand alone.
func (w *waitMode) IsBoolFlag() bool { return true }

// follow prints each step of a landed promotion until its canary's result:
// exit 0 when it Succeeded, exitRolledBack when it Failed and was rolled
// back, exitBlocked when --timeout ran out first.
func follow(ctx context.Context, svc *repoServices, out promote.Outcome, format string, stdout, stderr io.Writer) int {
	enc := json.NewEncoder(stdout)
	err := svc.promote.Follow(ctx, out, pollInterval, func(p promote.Progress) {
		if format == outputJSON {
			_ = enc.Encode(p)
			return
		}
		line := fmt.Sprintf("%s %s", p.At.UTC().Format(time.RFC3339), p.Step)
		if p.Commit != "" {
			line += " " + p.Commit
		}
		if p.Detail != "" {
			line += ": " + p.Detail
		}
		fmt.Fprintln(stdout, line)
	})
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, promote.ErrRolledBack):
		return exitRolledBack
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintln(stderr, "ensign promote: --timeout ran out:", err)
		return exitBlocked
	}
	fmt.Fprintln(stderr, "ensign promote:", err)
	return exitFailed
}

// waitMerged polls the promotion pull request until it is merged or closed,
// or ctx ends.
func waitMerged(ctx context.Context, svc *repoServices, out promote.Outcome, stderr io.Writer) promote.Outcome {
	fmt.Fprintf(stderr, "ensign promote: waiting for #%d to merge (%s)\n", out.PR, out.Reason)
	for {
		pr, err := svc.promote.PullRequest(ctx, out.PR)
		if err == nil && pr.Merged {
			out.Action, out.Commit, out.Reason = promote.ActionMerged, pr.MergeCommitSHA, "merged while waiting"
			return out
		}
		if err == nil && !pr.Open() {
			out.Action, out.Reason = promote.ActionClosedByPerson, "closed without merging while waiting"
			return out
		}
		select {
		case <-ctx.Done():
			out.Reason += "; --wait timed out"
			return out
		case <-time.After(pollInterval):
		}
	}
}

func promoteText(o promote.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %s: %s", o.App, o.From, o.To, o.Action)
	if o.PR != 0 {
		fmt.Fprintf(&b, " (#%d %s)", o.PR, o.URL)
	}
	if o.Commit != "" {
		fmt.Fprintf(&b, " commit %s", o.Commit)
	}
	fmt.Fprintf(&b, "\n  %s", o.Reason)
	if !o.Until.IsZero() {
		fmt.Fprintf(&b, "\n  next window opens %s", o.Until.Format(time.RFC3339))
	}
	for _, c := range o.Changes {
		fmt.Fprintf(&b, "\n  %s: %s -> %s", c.What, orDash(c.Old), c.New)
	}
	return b.String()
}

// rollbackCmd is `ensign rollback --app A --stage S [--commit SHA]`.
func rollbackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rollback", rollbackUsage)
	var flags cliFlags
	flags.register(fs)
	app := fs.String("app", "", "app to roll back (required)")
	stage := fs.String("stage", "", "stage to roll back (required)")
	commit := fs.String("commit", "", "commit to revert (default: the newest change to the stage's overlay that is not a revert)")
	flags.registerBy(fs)
	if code, ok := flags.parse(fs, args, stdout, stderr, "app", "stage"); !ok {
		return code
	}
	b, svc, code := connect(ctx, stderr, "rollback", flags)
	if b == nil {
		return code
	}
	defer b.close()
	out, err := svc.rollback.RollbackStage(ctx, rollback.Request{App: *app, Stage: *stage, Commit: *commit, Person: flags.person()})
	if err != nil {
		fmt.Fprintln(stderr, "ensign rollback:", err)
		if errors.Is(err, rollback.ErrBadRequest) || errors.Is(err, rollback.ErrNotFound) {
			return exitUsage
		}
		return exitFailed
	}
	emit(stdout, flags.output, out, rollbackText(out))
	if out.Action.Done() {
		return exitOK
	}
	return exitBlocked
}

func rollbackText(o rollback.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", o.App, o.Stage, o.Action)
	if o.Commit != "" {
		fmt.Fprintf(&b, " commit %s", o.Commit)
	}
	if o.PR != 0 {
		fmt.Fprintf(&b, " (#%d)", o.PR)
	}
	fmt.Fprintf(&b, "\n  %s", o.Reason)
	for _, c := range o.Conflicts {
		fmt.Fprintf(&b, "\n  conflict: %s (%s)", c.Path, c.Kind)
	}
	for _, r := range o.Reconciled {
		fmt.Fprintf(&b, "\n  reconcile requested: %s", r)
	}
	return b.String()
}

// statusCmd is `ensign status [--app A]`.
func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", statusUsage)
	var flags cliFlags
	flags.register(fs)
	app := fs.String("app", "", "only this app")
	if code, ok := flags.parse(fs, args, stdout, stderr); !ok {
		return code
	}
	b, svc, code := connect(ctx, stderr, "status", flags)
	if b == nil {
		return code
	}
	defer b.close()
	rep, err := svc.status.Build(ctx, *app)
	if err != nil {
		fmt.Fprintln(stderr, "ensign status:", err)
		return exitFailed
	}
	emit(stdout, flags.output, rep, statusText(rep))
	return exitOK
}

func statusText(rep status.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s\n", rep.Repo, rep.Commit)
	for _, a := range rep.Apps {
		fmt.Fprintf(&b, "\n%s\n", a.Name)
		for _, s := range a.Stages {
			window := "window open"
			if !s.WindowOpen {
				window = "window closed"
				if !s.NextOpen.IsZero() {
					window += " until " + s.NextOpen.Format(time.RFC3339)
				}
			}
			fmt.Fprintf(&b, "  %-14s canary %-12s git %s | running %s | %s", s.Name, s.Phase, orDash(strings.Join(s.Pinned, ",")), orDash(strings.Join(s.Running, ",")), window)
			if len(s.Queued) > 0 {
				fmt.Fprintf(&b, " | queued %v", s.Queued)
			}
			if len(s.Open) > 0 {
				fmt.Fprintf(&b, " | open %v", s.Open)
			}
			if s.Frozen != "" {
				fmt.Fprintf(&b, " | frozen by %s", s.Frozen)
				if s.FrozenWhy != "" {
					fmt.Fprintf(&b, ": %s", s.FrozenWhy)
				}
			}
			if len(s.Suspended) > 0 {
				fmt.Fprintf(&b, " | Flux suspended: %s", strings.Join(s.Suspended, ", "))
			}
			if s.Unreachable != "" {
				fmt.Fprintf(&b, " | canary unreachable: %s", s.Unreachable)
			}
			b.WriteString("\n")
			for _, e := range s.Excluded {
				where := e.File
				if where == "" {
					where = "in the cluster"
				}
				fmt.Fprintf(&b, "  %-14s image automation: tag %s excluded in ImageRepository %s (%s): %s\n", "", e.Tag, e.Repository, where, e.Note)
			}
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
