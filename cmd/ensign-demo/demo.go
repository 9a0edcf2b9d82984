package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// errInterrupted reports that the person stopped the demo (Ctrl-C).
var errInterrupted = errors.New("interrupted")

// options are the demo's flags.
type options struct {
	// keep leaves everything running after the story until Ctrl-C.
	keep bool
	// windowLead is the least time between seeding the repository and the
	// production window opening; the window opens on the next full minute
	// after that.
	windowLead time.Duration
	// real runs the real Flux and Flagger (with kube-controller-manager,
	// kube-scheduler and kwok) instead of playing them.
	real bool
	out  io.Writer
}

// demo is one run of the story: the servers, ensign, and the facts each
// step hands to the next.
type demo struct {
	opts options
	n    *narrator

	work   string // the demo's temporary directory: ensign's binary, data and log
	bin    string
	gitea  *harness.GiteaServer
	kube   *harness.KubeServer
	env    *scenario.Env
	ensign *ensignproc.Proc
	// With options.real: the controllers and the canaries' rollout webhook.
	workloads *harness.WorkloadServer
	flagger   *harness.FlaggerServer
	flux      *harness.FluxServer
	gate      *scenario.Gate

	windowOpens time.Time
	pr          *gitea.PullRequest // the promotion pull request
	mergeSHA    string
	revertSHA   string
}

// step is one narrated step of the story.
type step struct {
	title string
	run   func(context.Context) error
}

// steps is the story, in order.
func (d *demo) steps() []step {
	if d.opts.real {
		return d.realSteps()
	}
	return []step{
		{"Start a real Gitea and a real Kubernetes API server", d.startServers},
		{"Build ensign", d.build},
		{"Seed the sample GitOps repository", d.seed},
		{"Start ensign", d.startEnsign},
		{"CI releases podinfo 6.5.1 to staging; Flux applies it", d.release},
		{"Flagger analyses 6.5.1 in staging", d.stagingSucceeds},
		{"ensign opens a promotion pull request; the window is closed, so it is queued", d.queued},
		{"A person asks ensign with a comment: /status", d.askStatus},
		{"The production window opens; ensign merges the promotion", d.windowOpensAndMerges},
		{"Flux applies 6.5.1 to production; Flagger's analysis fails", d.productionFails},
		{"ensign reverts the promotion on main", d.reverted},
		{"ensign reports the rollback and asks Flux to reconcile now", d.followUps},
		{"Where to look", d.summary},
	}
}

// run plays the story and cleans up everything it started, whatever happens.
func run(ctx context.Context, opts options) (err error) {
	d := &demo{opts: opts, n: newNarrator(opts.out)}
	defer func() { err = errors.Join(err, d.cleanup(err != nil && !errors.Is(err, errInterrupted))) }()
	d.n.plain("ensign demo: a promotion that waits for its window, then a failed canary that ensign rolls back with a git revert.")
	if opts.real {
		d.n.plain("Everything runs for real on this machine: Gitea, kube-apiserver + etcd, kube-controller-manager, kube-scheduler, kwok, Flux, Flagger and `ensign run`; the demo plays CI and decides each canary analysis.")
		d.n.plain("It takes three to five minutes: Flagger analyses every 10 s, and the promotion waits for a real window to open. Ctrl-C stops it and cleans up.")
	} else {
		d.n.plain("Everything runs for real on this machine: Gitea, kube-apiserver + etcd, and `ensign run`; the demo plays CI, Flux and Flagger.")
		d.n.plain("It takes one to two minutes, most of it waiting for a real promotion window to open. Ctrl-C stops it and cleans up.")
	}
	steps := d.steps()
	for i, s := range steps {
		d.n.step(i+1, len(steps), s.title)
		if err := s.run(ctx); err != nil {
			if interrupted(ctx) {
				return errInterrupted
			}
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	if opts.keep {
		d.n.plain("\nEverything keeps running (ensign too: try commenting /status on #%d). Press Ctrl-C to stop and clean up.", d.pr.Index)
		<-ctx.Done()
		return nil
	}
	d.n.plain("\nThe story happened as told. Run `make demo ARGS=--keep` to keep everything running and browse it.")
	return nil
}

// interrupted reports whether the person pressed Ctrl-C. A terminal's Ctrl-C
// also reaches the servers' start-up commands, which may fail a moment
// before the demo's own signal handler runs; so it waits that moment.
func interrupted(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(300 * time.Millisecond):
		return ctx.Err() != nil
	}
}

// cleanup stops ensign and the servers and removes the demo's files. After a
// failure it keeps ensign's log and says where it is.
func (d *demo) cleanup(failed bool) error {
	servers := "Gitea, kube-apiserver and etcd"
	if d.opts.real {
		servers = "Flux, Flagger, kwok, kube-scheduler, kube-controller-manager, " + servers
	}
	d.n.plain("\nCleaning up: stopping ensign, %s; removing temporary files.", servers)
	var errs []error
	if d.ensign != nil {
		errs = append(errs, d.ensign.Stop())
	}
	errs = append(errs, d.stopControllers())
	if d.kube != nil {
		errs = append(errs, d.kube.Stop())
	}
	if d.gitea != nil {
		errs = append(errs, d.gitea.Stop())
	}
	if d.work != "" {
		if failed && d.ensign != nil {
			errs = append(errs, os.RemoveAll(filepath.Join(d.work, "data")), os.Remove(d.bin))
			d.n.plain("ensign's log is kept at %s", d.ensign.Log)
		} else {
			errs = append(errs, os.RemoveAll(d.work))
		}
	}
	return errors.Join(errs...)
}

// giveUp is an error from a wait condition that waiting longer cannot fix.
type giveUp struct{ error }

// waitFor polls cond until it holds, timeout passes, ctx ends, ensign exits
// or cond returns a giveUp error. The error says what did not happen and
// shows ensign's last log lines.
func (d *demo) waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(wctx)
		if ok {
			return nil
		}
		if g, ok := err.(giveUp); ok {
			return g.error
		}
		if err != nil {
			last = err
		}
		if d.ensign != nil {
			if err := d.ensign.Exited(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			msg := fmt.Sprintf("%s did not happen within %s", what, timeout.Round(time.Second))
			if last != nil {
				msg += fmt.Sprintf(" (last error: %v)", last)
			}
			if d.ensign != nil {
				msg += fmt.Sprintf("\nensign's log is %s; it ends with:\n%s", d.ensign.Log, d.ensign.LogTail(15))
			}
			return errors.New(msg)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
