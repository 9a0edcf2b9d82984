package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/policy"
)

// Usage texts of the freeze commands.
const (
	freezeUsage = `usage: ensign freeze --stage STAGE (--app APP[,APP...] | --all) --for DURATION --reason TEXT [-o json]

Freezes STAGE of the apps (or of every app that has it) from now for
DURATION (for example 4h, 90m, 2d; at most 31 days): ensign writes the
freeze into the policy file on the deploy branch, merges nothing into the
stage until it ends, fails its ensign/window commit status and says who
froze it and why. Rollbacks still land (unless the policy sets
rollback.allowInDenyWindow: false). A freeze of the same stage and
apps is replaced (extended or shortened). If the branch refuses ensign's
push, the freeze waits in a pull request.
Exit codes: 0 frozen, 1 error, 2 bad request, 3 waiting in a pull request.
`
	unfreezeUsage = `usage: ensign unfreeze --stage STAGE (--app APP[,APP...] | --all) [-o json]

Lifts the emergency freezes of STAGE: with --all every freeze of the stage,
with --app those apps (a freeze of every app is lifted only with --all).
Queued promotions merge at once if the stage's windows are open.
Exit codes: 0 unfrozen (or nothing to lift), 1 error, 2 bad request, 3
waiting in a pull request.
`
)

// freezeFlags are the flags freeze and unfreeze share.
type freezeFlags struct {
	cliFlags
	stage, apps string
	all         bool
}

func (f *freezeFlags) register(fs *flag.FlagSet) {
	f.cliFlags.register(fs)
	fs.StringVar(&f.stage, "stage", "", "stage (required)")
	fs.StringVar(&f.apps, "app", "", "apps, comma-separated")
	fs.BoolVar(&f.all, "all", false, "every app that has the stage")
	f.registerBy(fs)
}

// request checks --app and --all and builds the service request.
func (f *freezeFlags) request(fs *flag.FlagSet, stderr io.Writer) (freeze.Request, int, bool) {
	req := freeze.Request{Stage: f.stage, All: f.all, By: f.person()}
	for a := range strings.SplitSeq(f.apps, ",") {
		if a = strings.TrimSpace(a); a != "" {
			req.Apps = append(req.Apps, a)
		}
	}
	if f.all == (len(req.Apps) > 0) {
		return req, badUsage(fs, stderr, "give --app or --all (one of them)"), false
	}
	return req, 0, true
}

// freezeCmd is `ensign freeze --stage S (--app A | --all) --for D --reason R`.
func freezeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("freeze", freezeUsage)
	var flags freezeFlags
	flags.register(fs)
	forS := fs.String("for", "", "how long: 4h, 90m, 2d (required; at most 31 days)")
	reason := fs.String("reason", "", "why, one line (required)")
	if code, ok := flags.parse(fs, args, stdout, stderr, "stage", "for", "reason"); !ok {
		return code
	}
	req, code, ok := flags.request(fs, stderr)
	if !ok {
		return code
	}
	d, err := policy.ParseDays(*forS)
	if err != nil {
		return badUsage(fs, stderr, "--for: %v", err)
	}
	req.For, req.Reason = d, *reason
	return runFreeze(ctx, "freeze", flags.cliFlags, stdout, stderr, func(svc *repoServices) (freeze.Outcome, error) {
		return svc.freeze.Freeze(ctx, req)
	})
}

// unfreezeCmd is `ensign unfreeze --stage S (--app A | --all)`.
func unfreezeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("unfreeze", unfreezeUsage)
	var flags freezeFlags
	flags.register(fs)
	if code, ok := flags.parse(fs, args, stdout, stderr, "stage"); !ok {
		return code
	}
	req, code, ok := flags.request(fs, stderr)
	if !ok {
		return code
	}
	return runFreeze(ctx, "unfreeze", flags.cliFlags, stdout, stderr, func(svc *repoServices) (freeze.Outcome, error) {
		return svc.freeze.Unfreeze(ctx, req)
	})
}

func runFreeze(ctx context.Context, name string, flags cliFlags, stdout, stderr io.Writer, do func(*repoServices) (freeze.Outcome, error)) int {
	b, svc, code := connect(ctx, stderr, name, flags)
	if b == nil {
		return code
	}
	defer b.close()
	out, err := do(svc)
	if err != nil {
		fmt.Fprintf(stderr, "ensign %s: %v\n", name, err)
		if errors.Is(err, freeze.ErrBadRequest) {
			return exitUsage
		}
		return exitFailed
	}
	emit(stdout, flags.output, out, freezeText(out))
	if out.Action == freeze.ActionProposed {
		return exitBlocked
	}
	return exitOK
}

func freezeText(o freeze.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", o.Action, o.Reason)
	if o.Commit != "" {
		fmt.Fprintf(&b, "\n  commit %s", o.Commit)
	}
	if o.PR != 0 {
		fmt.Fprintf(&b, "\n  pull request #%d %s", o.PR, o.URL)
	}
	if f := o.Freeze; f != nil {
		fmt.Fprintf(&b, "\n  %s, from %s until %s, by %s: %s", f.Scope(), f.From.Format(time.RFC3339), f.Until.Format(time.RFC3339), orDash(f.By), f.Reason)
	}
	for _, f := range o.Removed {
		fmt.Fprintf(&b, "\n  lifted: %s until %s, by %s: %s", f.Scope(), f.Until.Format(time.RFC3339), orDash(f.By), f.Reason)
	}
	return b.String()
}
